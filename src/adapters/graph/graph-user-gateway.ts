import type { AssignedLicense, GatewayFailure, GatewayResult, M365User, M365UserGateway, M365UserGateways, M365UserPatch, M365UserProperty, NewM365User, SubscribedSku } from '../../domain/provisioning/m365-user-gateway';
import { err, ok } from '../../domain/result';
import type { GraphClient } from './graph-client';
import type { GraphClientFactory } from './graph-client-factory';
import { translateGraphError, type GraphRequestError } from './graph-error-translator';
import { GraphRequestBatcher } from './graph-request-batcher';
import { readPrivilegedRoleHolders, roleHoldersTtlMs } from './graph-role-holders';

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

/** A `subscribedSku` as Graph returns it. */
interface GraphSubscribedSku {
  readonly skuId: string;
  readonly skuPartNumber: string;
  readonly appliesTo?: string;
  readonly capabilityStatus?: string;
  readonly consumedUnits?: number;
  readonly prepaidUnits?: { readonly enabled?: number };
  readonly servicePlans?: readonly { readonly servicePlanId: string; readonly servicePlanName: string }[];
}

/**
 * assignLicense answers every refusal with 400 Request_BadRequest; the message says which
 * (user-assignlicense.md and the errors admins report). Two of them the worker acts on.
 */
function licenseFailure(failure: GatewayFailure): GatewayFailure {
  if (failure.kind !== 'permanent') return failure;
  if (/does not have any available licenses/i.test(failure.message)) return { ...failure, code: 'LICENSE_UNAVAILABLE' };
  if (/usage location/i.test(failure.message)) return { ...failure, code: 'USAGE_LOCATION_REQUIRED' };
  return failure;
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
 * Calls made together by concurrent workers share `$batch` round trips. Errors come classified
 * from the one translator and are returned, never thrown.
 */
export class GraphUserGateway implements M365UserGateway {
  private readonly graph: GraphRequestBatcher;
  private holders: { readonly ids: ReadonlySet<string>; readonly untilMs: number } | undefined;

  constructor(
    private readonly client: GraphClient,
    /** GRAPH_BASE_URL, for the `@odata.id` of manager references. */
    private readonly graphBaseUrl: string,
  ) {
    this.graph = new GraphRequestBatcher(client);
  }

  private async call<T>(request: () => Promise<T>): Promise<GatewayResult<T>> {
    try {
      return ok(await request());
    } catch (error) {
      return err(toGatewayFailure(translateGraphError(error)));
    }
  }

  async findByUpn(upn: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User | undefined>> {
    const filter = encodeURIComponent(`userPrincipalName eq ${odataString(upn)}`);
    const found = await this.call(() => this.graph.send<{ value?: M365User[] }>({ method: 'GET', url: `/users?$filter=${filter}&${selectQuery(select)}` }));
    return found.ok ? ok(found.value.value?.[0]) : found;
  }

  get(id: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User>> {
    return this.call(() => this.graph.send<M365User>({ method: 'GET', url: `/users/${encodeURIComponent(id)}?${selectQuery(select)}` }));
  }

  async create(user: NewM365User): Promise<GatewayResult<M365User>> {
    const created = await this.call(() => this.graph.send<M365User>({ method: 'POST', url: '/users', body: { ...user.attributes, passwordProfile: user.passwordProfile } }));
    return created.ok ? ok({ id: created.value.id, userPrincipalName: created.value.userPrincipalName }) : created;
  }

  update(id: string, patch: M365UserPatch): Promise<GatewayResult<void>> {
    const body = { ...patch.attributes, ...(patch.passwordProfile === undefined ? {} : { passwordProfile: patch.passwordProfile }) };
    return this.call(async () => {
      await this.graph.send({ method: 'PATCH', url: `/users/${encodeURIComponent(id)}`, body });
    });
  }

  async setManager(id: string, managerId: string | null): Promise<GatewayResult<void>> {
    const path = `/users/${encodeURIComponent(id)}/manager/$ref`;
    if (managerId !== null) {
      return this.call(async () => {
        await this.graph.send({ method: 'PUT', url: path, body: { '@odata.id': `${this.graphBaseUrl}/v1.0/users/${managerId}` } });
      });
    }
    const removed = await this.call(() => this.graph.send<void>({ method: 'DELETE', url: path }));
    // No manager to remove is what removing wanted.
    return !removed.ok && removed.error.kind === 'not_found' ? ok(undefined) : removed;
  }

  revokeSessions(id: string): Promise<GatewayResult<void>> {
    return this.call(async () => {
      await this.graph.send({ method: 'POST', url: `/users/${encodeURIComponent(id)}/revokeSignInSessions` });
    });
  }

  delete(id: string): Promise<GatewayResult<void>> {
    return this.call(async () => {
      await this.graph.send<void>({ method: 'DELETE', url: `/users/${encodeURIComponent(id)}` });
    });
  }

  async subscribedSkus(): Promise<GatewayResult<SubscribedSku[]>> {
    const listed = await this.call(() => this.graph.send<{ value?: GraphSubscribedSku[] }>({ method: 'GET', url: '/subscribedSkus?$select=skuId,skuPartNumber,appliesTo,capabilityStatus,consumedUnits,prepaidUnits,servicePlans' }));
    if (!listed.ok) return listed;
    return ok(
      (listed.value.value ?? []).map((sku) => ({
        skuId: sku.skuId,
        skuPartNumber: sku.skuPartNumber,
        appliesTo: sku.appliesTo ?? 'User',
        capabilityStatus: sku.capabilityStatus ?? 'Enabled',
        enabled: sku.prepaidUnits?.enabled ?? 0,
        consumed: sku.consumedUnits ?? 0,
        servicePlans: (sku.servicePlans ?? []).map((plan) => ({ servicePlanId: plan.servicePlanId, servicePlanName: plan.servicePlanName })),
      })),
    );
  }

  async assignLicenses(id: string, add: readonly AssignedLicense[], remove: readonly string[]): Promise<GatewayResult<void>> {
    const body = { addLicenses: add.map((license) => ({ skuId: license.skuId, disabledPlans: [...license.disabledPlans] })), removeLicenses: [...remove] };
    const assigned = await this.call(async () => {
      await this.graph.send({ method: 'POST', url: `/users/${encodeURIComponent(id)}/assignLicense`, body });
    });
    return assigned.ok ? assigned : err(licenseFailure(assigned.error));
  }

  restore(id: string): Promise<GatewayResult<void>> {
    return this.call(async () => {
      await this.graph.send({ method: 'POST', url: `/directory/deletedItems/${encodeURIComponent(id)}/restore` });
    });
  }

  async privilegedRoleHolders(): Promise<GatewayResult<ReadonlySet<string>>> {
    const nowMs = Date.now();
    if (this.holders !== undefined && this.holders.untilMs > nowMs) return ok(this.holders.ids);
    const read = await this.call(() => readPrivilegedRoleHolders(this.client));
    if (read.ok) this.holders = { ids: read.value, untilMs: nowMs + roleHoldersTtlMs };
    return read;
  }
}

/** Gateways over the factory's Graph client of each connection, built once per connection. */
export function createGraphUserGateways(clients: GraphClientFactory, graphBaseUrl: string): M365UserGateways {
  const gateways = new Map<string, GraphUserGateway>();
  return {
    forConnection(connectionId) {
      let gateway = gateways.get(connectionId);
      if (gateway === undefined) {
        gateway = new GraphUserGateway(clients.forConnection(connectionId), graphBaseUrl);
        gateways.set(connectionId, gateway);
      }
      return gateway;
    },
  };
}
