import { idsPerFilter, idsPerLookup, m365PageSize, m365PersonProperties, type DirectoryRead, type M365Directories, type M365Directory, type M365Group, type M365Page, type M365Person } from '../../domain/import/m365-directory';
import { err, ok } from '../../domain/result';
import type { GraphBatchRequest, GraphClient } from './graph-client';
import { translateGraphError } from './graph-error-translator';
import { readPrivilegedRoleHolders, roleHoldersTtlMs } from './graph-role-holders';
import { toGatewayFailure } from './graph-user-gateway';

const personSelect = m365PersonProperties.join(',');
// Graph's $expand on a user list: the manager's id only. Group member lists are directory objects and cannot expand it.
const managerExpand = `$expand=${encodeURIComponent('manager($select=id)')}`;
const groupSelect = 'id,displayName,description,securityEnabled,mailEnabled,groupTypes';
const userType = '#microsoft.graph.user';

interface RawPage<T> {
  readonly value?: readonly T[];
  readonly '@odata.nextLink'?: string;
}

type RawMember = Omit<M365Person, 'managerId'> & { readonly '@odata.type'?: string; readonly manager?: { readonly id?: string } | null };

function toPage<T>(raw: RawPage<T>, items: readonly T[]): M365Page<T> {
  const next = raw['@odata.nextLink'];
  return { items, ...(next === undefined ? {} : { nextPage: next }) };
}

function person(raw: RawMember): M365Person {
  const { '@odata.type': _type, manager, ...rest } = raw as RawMember & Record<string, unknown>;
  return (typeof manager?.id === 'string' ? { ...rest, managerId: manager.id } : rest) as M365Person;
}

/**
 * The import's read-only view of one connection's tenant on Microsoft Graph. Lists use `$select`
 * and `$top=999`; ids are looked up 15 to an `in` filter (Graph's default limit) and 20 filters to
 * a `$batch`. Page links come back from clients (cursors) and queue messages, so only links into
 * the same collection on GRAPH_BASE_URL are followed: the connection's token goes nowhere else.
 */
export class GraphM365Directory implements M365Directory {
  private readonly versionBase: string;

  constructor(
    private readonly client: GraphClient,
    graphBaseUrl: string,
    private readonly roleHolders: RoleHoldersCache = { value: undefined },
  ) {
    this.versionBase = `${graphBaseUrl.replace(/\/+$/, '')}/v1.0`;
  }

  private async call<T>(request: () => Promise<T>): Promise<DirectoryRead<T>> {
    try {
      return ok(await request());
    } catch (error) {
      return err(toGatewayFailure(translateGraphError(error)));
    }
  }

  private followable(link: string, collection: string): boolean {
    let url: URL;
    try {
      url = new URL(link);
    } catch {
      return false;
    }
    const base = new URL(this.versionBase);
    return url.origin === base.origin && url.pathname === `${base.pathname}/${collection}` && url.username === '' && url.password === '';
  }

  private invalidLink(): DirectoryRead<never> {
    return err({ kind: 'invalid_link', code: 'INVALID_PAGE_LINK', message: 'the page link is not one of this collection' });
  }

  async listUsers(request: { readonly enabled?: boolean; readonly page?: string }): Promise<DirectoryRead<M365Page<M365Person>>> {
    if (request.page !== undefined && !this.followable(request.page, 'users')) return this.invalidLink();
    const filter = request.enabled === undefined ? '' : `&$filter=${encodeURIComponent(`accountEnabled eq ${String(request.enabled)}`)}`;
    const path = request.page ?? `/users?$select=${personSelect}&${managerExpand}&$top=${m365PageSize}${filter}`;
    const read = await this.call(() => this.client.get<RawPage<RawMember>>(path));
    return read.ok ? ok(toPage(read.value, (read.value.value ?? []).map(person))) : read;
  }

  async usersByIds(ids: readonly string[]): Promise<DirectoryRead<M365Person[]>> {
    if (ids.length > idsPerLookup) throw new TypeError(`usersByIds takes at most ${idsPerLookup} ids, got ${ids.length}`);
    if (ids.length === 0) return ok([]);
    const requests: GraphBatchRequest[] = [];
    for (let i = 0; i < ids.length; i += idsPerFilter) {
      // Object ids are GUIDs (validated at the API); quotes are doubled all the same.
      const values = ids.slice(i, i + idsPerFilter).map((id) => `'${id.replace(/'/g, "''")}'`);
      requests.push({ id: String(requests.length), method: 'GET', url: `/users?$filter=${encodeURIComponent(`id in (${values.join(',')})`)}&$select=${personSelect}&${managerExpand}` });
    }
    const answered = await this.call(() => this.client.batch<RawPage<RawMember>>(requests));
    if (!answered.ok) return answered;
    const found: M365Person[] = [];
    for (const response of answered.value) {
      if (response.error !== undefined) return err(toGatewayFailure(response.error));
      found.push(...(response.body?.value ?? []).map(person));
    }
    return ok(found);
  }

  async privilegedRoleHolders(): Promise<DirectoryRead<ReadonlySet<string>>> {
    const nowMs = Date.now();
    const cached = this.roleHolders.value;
    if (cached !== undefined && cached.untilMs > nowMs) return ok(cached.ids);
    const read = await this.call(() => readPrivilegedRoleHolders(this.client));
    if (read.ok) this.roleHolders.value = { ids: read.value, untilMs: nowMs + roleHoldersTtlMs };
    return read;
  }

  async getGroup(id: string): Promise<DirectoryRead<M365Group | undefined>> {
    const read = await this.call(() => this.client.get<M365Group>(`/groups/${encodeURIComponent(id)}?$select=${groupSelect}`));
    if (!read.ok && read.error.kind === 'not_found') return ok(undefined);
    return read;
  }

  async listGroupMembers(groupId: string, page?: string): Promise<DirectoryRead<M365Page<M365Person>>> {
    const collection = `groups/${encodeURIComponent(groupId)}/members`;
    if (page !== undefined && !this.followable(page, collection)) return this.invalidLink();
    const path = page ?? `/${collection}?$select=${personSelect}&$top=${m365PageSize}`;
    const read = await this.call(() => this.client.get<RawPage<RawMember>>(path));
    if (!read.ok) return read;
    // Members are directory objects: nested groups and devices come back too, and are not users.
    const users = (read.value.value ?? []).filter((member) => (member['@odata.type'] ?? userType) === userType).map(person);
    return ok(toPage(read.value, users));
  }
}

/** A connection's privileged role holders as last read, shared by the directories opened for it. */
interface RoleHoldersCache {
  value: { readonly ids: ReadonlySet<string>; readonly untilMs: number } | undefined;
}

/** Directories over a Graph client per connection. */
export function createGraphM365Directories(clientFor: (connectionId: string) => GraphClient, graphBaseUrl: string): M365Directories {
  const roleHolders = new Map<string, RoleHoldersCache>();
  return {
    forConnection(connectionId) {
      let cache = roleHolders.get(connectionId);
      if (cache === undefined) {
        cache = { value: undefined };
        roleHolders.set(connectionId, cache);
      }
      return new GraphM365Directory(clientFor(connectionId), graphBaseUrl, cache);
    },
  };
}
