import type { GatewayFailure, GatewayResult, M365User, M365UserGateway, M365UserGateways, M365UserPatch, M365UserProperty, NewM365User } from '../../domain/provisioning/m365-user-gateway';
import { err, ok } from '../../domain/result';
import type { GraphClient } from './graph-client';
import { translateGraphError, type GraphRequestError } from './graph-error-translator';

/** Graph's own message, without the translator's "Graph 400 Request_BadRequest: " prefix. */
function graphMessage(error: GraphRequestError): string {
  return error.message.replace(/^Graph \d+(?: \S+)?: /, '');
}

/** Maps the translator's classification onto the provisioning port's failures (one place, status first). */
export function toGatewayFailure(error: GraphRequestError): GatewayFailure {
  const code = error.graphCode ?? (error.status === undefined ? error.code : `HTTP_${error.status}`);
  const message = graphMessage(error);
  switch (error.code) {
    case 'transient':
      return { kind: 'transient', code, message, throttled: error.status === 429, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) };
    case 'not_found':
      return { kind: 'not_found', code, message };
    case 'exists':
      return { kind: 'exists', code, message };
    case 'reauthorization_required':
      return { kind: 'stop', code: 'reauthorization_required', message, reauthorizationRequired: true };
    case 'stop':
    case 'not_connected':
      return { kind: 'stop', code, message, reauthorizationRequired: false };
    case 'bad_request':
    case 'delta_expired':
      return { kind: 'permanent', code, message };
  }
}

/** OData string literal: single quotes doubled (`o'brien` -> `'o''brien'`). */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function selectQuery(select: readonly M365UserProperty[]): string {
  return `$select=${select.join(',')}`;
}

/**
 * The provisioning port on Microsoft Graph `users`, for one connection. Every read names its
 * `$select`; UPN look-ups use `$filter` (any UPN, quotes escaped) rather than a path segment.
 * Errors come classified from the one translator and are returned, never thrown.
 */
export class GraphUserGateway implements M365UserGateway {
  constructor(
    private readonly client: GraphClient,
    /** GRAPH_BASE_URL, for the `@odata.id` of manager references. */
    private readonly graphBaseUrl: string,
  ) {}

  private async call<T>(request: () => Promise<T>): Promise<GatewayResult<T>> {
    try {
      return ok(await request());
    } catch (error) {
      return err(toGatewayFailure(translateGraphError(error)));
    }
  }

  async findByUpn(upn: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User | undefined>> {
    const filter = encodeURIComponent(`userPrincipalName eq ${odataString(upn)}`);
    const found = await this.call(() => this.client.get<{ value?: M365User[] }>(`/users?$filter=${filter}&${selectQuery(select)}`));
    return found.ok ? ok(found.value.value?.[0]) : found;
  }

  get(id: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User>> {
    return this.call(() => this.client.get<M365User>(`/users/${encodeURIComponent(id)}?${selectQuery(select)}`));
  }

  async create(user: NewM365User): Promise<GatewayResult<M365User>> {
    const created = await this.call(() => this.client.post<M365User>('/users', { ...user.attributes, passwordProfile: user.passwordProfile }));
    return created.ok ? ok({ id: created.value.id, userPrincipalName: created.value.userPrincipalName }) : created;
  }

  update(id: string, patch: M365UserPatch): Promise<GatewayResult<void>> {
    const body = { ...patch.attributes, ...(patch.passwordProfile === undefined ? {} : { passwordProfile: patch.passwordProfile }) };
    return this.call(async () => {
      await this.client.patch(`/users/${encodeURIComponent(id)}`, body);
    });
  }

  async setManager(id: string, managerId: string | null): Promise<GatewayResult<void>> {
    const path = `/users/${encodeURIComponent(id)}/manager/$ref`;
    if (managerId !== null) {
      return this.call(async () => {
        await this.client.put(path, { '@odata.id': `${this.graphBaseUrl}/v1.0/users/${managerId}` });
      });
    }
    const removed = await this.call(() => this.client.delete(path));
    // No manager to remove is what removing wanted.
    return !removed.ok && removed.error.kind === 'not_found' ? ok(undefined) : removed;
  }
}

/** Gateways over a Graph client per connection. */
export function createGraphUserGateways(clientFor: (connectionId: string) => GraphClient, graphBaseUrl: string): M365UserGateways {
  return { forConnection: (connectionId) => new GraphUserGateway(clientFor(connectionId), graphBaseUrl) };
}
