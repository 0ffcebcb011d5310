import type { GroupDeltaItem, GroupDeltaPage, M365Group, M365GroupGateway, M365GroupGateways, M365GroupPatch, MemberChange, MemberChangeResult, NewM365SecurityGroup } from '../../domain/group-sync/m365-group-gateway';
import type { GatewayResult } from '../../domain/provisioning/m365-user-gateway';
import { err, ok } from '../../domain/result';
import type { GraphBatchRequest, GraphClient } from './graph-client';
import type { GraphClientFactory } from './graph-client-factory';
import { translateGraphError } from './graph-error-translator';
import { toGatewayFailure } from './graph-user-gateway';

const groupSelect = 'id,displayName,mailNickname,description,securityEnabled,mailEnabled,groupTypes';
/** What a delta round tracks: a rename, a description change and membership changes. */
const deltaSelect = 'displayName,description,members';

interface RawGroup {
  readonly id: string;
  readonly displayName?: string | null;
  readonly mailNickname?: string | null;
  readonly description?: string | null;
  readonly securityEnabled?: boolean | null;
  readonly mailEnabled?: boolean | null;
  readonly groupTypes?: readonly string[] | null;
}

interface RawDeltaGroup {
  readonly id: string;
  readonly displayName?: string | null;
  readonly description?: string | null;
  readonly '@removed'?: unknown;
  readonly 'members@delta'?: readonly { readonly id: string; readonly '@removed'?: unknown }[];
}

interface RawDeltaPage {
  readonly value?: readonly RawDeltaGroup[];
  readonly '@odata.nextLink'?: string;
  readonly '@odata.deltaLink'?: string;
}

function toGroup(raw: RawGroup): M365Group {
  return {
    id: raw.id.toLowerCase(),
    displayName: raw.displayName ?? '',
    mailNickname: raw.mailNickname ?? '',
    description: raw.description ?? null,
    securityEnabled: raw.securityEnabled === true,
    mailEnabled: raw.mailEnabled === true,
    groupTypes: raw.groupTypes ?? [],
  };
}

function toDeltaItem(raw: RawDeltaGroup): GroupDeltaItem {
  const members = raw['members@delta'] ?? [];
  return {
    id: raw.id.toLowerCase(),
    removed: raw['@removed'] !== undefined,
    ...(raw.displayName === undefined || raw.displayName === null ? {} : { displayName: raw.displayName }),
    ...(raw.description === undefined ? {} : { description: raw.description }),
    membersAdded: members.filter((m) => m['@removed'] === undefined).map((m) => m.id.toLowerCase()),
    membersRemoved: members.filter((m) => m['@removed'] !== undefined).map((m) => m.id.toLowerCase()),
  };
}

/** OData string literal: single quotes doubled. */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Group sync's port on Microsoft Graph `groups`, for one connection: security groups, their
 * `members/$ref` in `$batch`es of 20 (each answer classified on its own), and `groups/delta` with
 * `members@delta`. Errors come classified from the one translator and are returned, never thrown.
 */
export class GraphGroupGateway implements M365GroupGateway {
  constructor(
    private readonly client: GraphClient,
    /** GRAPH_BASE_URL, for the `@odata.id` of member references. */
    private readonly graphBaseUrl: string,
  ) {}

  private async call<T>(request: () => Promise<T>): Promise<GatewayResult<T>> {
    try {
      return ok(await request());
    } catch (error) {
      return err(toGatewayFailure(translateGraphError(error)));
    }
  }

  async findByNameOrNickname(displayName: string, mailNickname: string): Promise<GatewayResult<M365Group[]>> {
    const filter = encodeURIComponent(`displayName eq ${odataString(displayName)} or mailNickname eq ${odataString(mailNickname)}`);
    const found = await this.call(() => this.client.all<RawGroup>(`/groups?$filter=${filter}&$select=${groupSelect}`));
    return found.ok ? ok(found.value.map(toGroup)) : found;
  }

  async get(id: string): Promise<GatewayResult<M365Group>> {
    const read = await this.call(() => this.client.get<RawGroup>(`/groups/${encodeURIComponent(id)}?$select=${groupSelect}`));
    return read.ok ? ok(toGroup(read.value)) : read;
  }

  async createSecurityGroup(group: NewM365SecurityGroup): Promise<GatewayResult<M365Group>> {
    const created = await this.call(() => this.client.post<RawGroup>('/groups', { ...group, mailEnabled: false, securityEnabled: true }));
    return created.ok ? ok(toGroup(created.value)) : created;
  }

  update(id: string, patch: M365GroupPatch): Promise<GatewayResult<void>> {
    return this.call(async () => {
      await this.client.patch(`/groups/${encodeURIComponent(id)}`, patch);
    });
  }

  async delete(id: string): Promise<GatewayResult<void>> {
    const deleted = await this.call(() => this.client.delete(`/groups/${encodeURIComponent(id)}`));
    return !deleted.ok && deleted.error.kind === 'not_found' ? ok(undefined) : deleted;
  }

  async memberIds(id: string): Promise<GatewayResult<string[]>> {
    const members = await this.call(() => this.client.all<{ id: string }>(`/groups/${encodeURIComponent(id)}/members?$select=id&$top=999`));
    return members.ok ? ok(members.value.map((m) => m.id.toLowerCase())) : members;
  }

  async changeMembers(id: string, changes: readonly MemberChange[]): Promise<GatewayResult<MemberChangeResult[]>> {
    const group = encodeURIComponent(id);
    const requests: GraphBatchRequest[] = changes.map((change, index) =>
      change.op === 'add'
        ? { id: String(index + 1), method: 'POST', url: `/groups/${group}/members/$ref`, body: { '@odata.id': `${this.graphBaseUrl}/v1.0/directoryObjects/${change.memberId}` } }
        : { id: String(index + 1), method: 'DELETE', url: `/groups/${group}/members/${encodeURIComponent(change.memberId)}/$ref` },
    );
    const answered = await this.call(() => this.client.batch(requests));
    if (!answered.ok) return answered;
    return ok(
      answered.value.map((response, index): MemberChangeResult => {
        const change = changes[index] as MemberChange;
        if (response.error === undefined) return { change, status: 'applied' };
        const failure = toGatewayFailure(response.error);
        // Graph's "already exist" on add and 404 on remove: the group already is as wanted.
        if ((change.op === 'add' && failure.kind === 'exists') || (change.op === 'remove' && failure.kind === 'not_found')) return { change, status: 'unchanged' };
        return { change, status: 'failed', failure };
      }),
    );
  }

  async deltaPage(link: string | undefined): Promise<GatewayResult<GroupDeltaPage>> {
    try {
      const raw = await this.client.get<RawDeltaPage>(link ?? `/groups/delta?$select=${deltaSelect}`);
      const nextLink = raw['@odata.nextLink'];
      const deltaLink = raw['@odata.deltaLink'];
      return ok({ kind: 'page', items: (raw.value ?? []).map(toDeltaItem), ...(nextLink === undefined ? {} : { nextLink }), ...(deltaLink === undefined ? {} : { deltaLink }) });
    } catch (error) {
      const translated = translateGraphError(error);
      return translated.code === 'delta_expired' ? ok({ kind: 'expired' }) : err(toGatewayFailure(translated));
    }
  }
}

/** Gateways over the factory's Graph client of each connection, built once per connection. */
export function createGraphGroupGateways(clients: GraphClientFactory, graphBaseUrl: string): M365GroupGateways {
  const gateways = new Map<string, GraphGroupGateway>();
  return {
    forConnection(connectionId) {
      let gateway = gateways.get(connectionId);
      if (gateway === undefined) {
        gateway = new GraphGroupGateway(clients.forConnection(connectionId), graphBaseUrl);
        gateways.set(connectionId, gateway);
      }
      return gateway;
    },
  };
}
