import type { GraphResult } from './graph-errors';
import { badRequest, graphError } from './graph-errors';
import type { GroupRecord, TenantDirectory, UserRecord } from './tenant-directory';

/**
 * users/delta and groups/delta (api-reference/v1.0/api/user-delta.md, group-delta.md,
 * concepts/delta-query-overview.md). State tokens carry the tenant sequence the round covers
 * `(since, until]`, the scan position, the tracked `$select`, and when the round's deltaLink was
 * issued: directory delta tokens expire after seven days.
 */
interface DeltaState {
  readonly v: 1;
  readonly kind: 'users' | 'groups';
  readonly tenantId: string;
  readonly since: number;
  readonly until: number;
  readonly pos: number;
  readonly select: string[] | null;
  readonly issuedAtMs: number;
}

const deltaPageSize = 200;
const tokenLifetimeMs = 7 * 24 * 3600 * 1000;

function encode(state: DeltaState): string {
  return Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
}

function decode(token: string): DeltaState | undefined {
  try {
    const state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as DeltaState;
    return state.v === 1 && typeof state.since === 'number' && typeof state.pos === 'number' ? state : undefined;
  } catch {
    return undefined;
  }
}

export interface DeltaRequest {
  readonly kind: 'users' | 'groups';
  readonly tenant: TenantDirectory;
  readonly query: URLSearchParams;
  /** `$select` already validated, or undefined. */
  readonly select: string[] | undefined;
  readonly graphBase: string;
  readonly nowMs: number;
  readonly timeScale: number;
  readonly userView: (user: UserRecord, select: string[] | undefined) => Record<string, unknown>;
  readonly groupView: (group: GroupRecord, select: string[] | undefined) => Record<string, unknown>;
}

const removedMember = { reason: 'deleted' } as const;

export function deltaRound(req: DeltaRequest): GraphResult {
  const { tenant, kind, graphBase, nowMs } = req;
  const deltaToken = req.query.get('$deltatoken') ?? req.query.get('$deltaToken');
  const skipToken = req.query.get('$skiptoken') ?? req.query.get('$skipToken');
  const link = (param: string, token: string): string => `${graphBase}/v1.0/${kind}/delta?${param}=${token}`;
  const expiredAfterMs = tokenLifetimeMs / req.timeScale;

  let round: DeltaState;
  if (deltaToken === 'latest') {
    const latest: DeltaState = { v: 1, kind, tenantId: tenant.id, since: tenant.seq, until: tenant.seq, pos: 0, select: req.select ?? null, issuedAtMs: nowMs };
    return { status: 200, body: { '@odata.context': context(graphBase, kind, req.select), '@odata.deltaLink': link('$deltatoken', encode(latest)), value: [] } };
  }
  const token = deltaToken ?? skipToken;
  if (token !== null) {
    const decoded = decode(token);
    if (!decoded || decoded.kind !== kind || decoded.tenantId !== tenant.id) return badRequest('Invalid delta token.', nowMs);
    if (nowMs - decoded.issuedAtMs > expiredAfterMs) {
      // Entra answers an expired directory token with a full-resync signal (410 + Location of a fresh round).
      return graphError(410, 'syncStateNotFound', 'The sync state generation is not found. The delta token is expired and data must be synchronized again.', nowMs, {
        headers: { location: `${graphBase}/v1.0/${kind}/delta` },
      });
    }
    // A deltaLink starts a new round covering everything changed since the previous round's end.
    round = deltaToken !== null ? { ...decoded, since: decoded.until, until: tenant.seq, pos: 0, select: req.select ?? decoded.select } : decoded;
  } else {
    round = { v: 1, kind, tenantId: tenant.id, since: 0, until: tenant.seq, pos: 0, select: req.select ?? null, issuedAtMs: nowMs };
  }

  const select = round.select ?? undefined;
  const order: readonly (UserRecord | GroupRecord)[] = kind === 'users' ? tenant.userOrder : tenant.groupOrder;
  const value: Record<string, unknown>[] = [];
  let pos = round.pos;
  while (pos < order.length && value.length < deltaPageSize) {
    const record = order[pos];
    pos += 1;
    if (!record) continue;
    const item = kind === 'users' ? userItem(record as UserRecord, round, req) : groupItem(record as GroupRecord, round, req);
    if (item) value.push(item);
  }
  const body: Record<string, unknown> = { '@odata.context': context(graphBase, kind, select) };
  if (pos < order.length) {
    body['@odata.nextLink'] = link('$skiptoken', encode({ ...round, pos }));
  } else {
    body['@odata.deltaLink'] = link('$deltatoken', encode({ ...round, pos: 0, since: round.until, issuedAtMs: nowMs }));
  }
  body.value = value;
  return { status: 200, body };
}

function context(graphBase: string, kind: string, select: string[] | undefined): string {
  return `${graphBase}/v1.0/$metadata#${kind}${select ? `(${select.join(',')})` : ''}`;
}

/** Whether a record changed in the round, counting only tracked properties when `$select` was given. */
function changedIn(record: UserRecord | GroupRecord, round: DeltaState, tracked: string[] | undefined): boolean {
  if (record.createdSeq > round.since) return true;
  if (!tracked) return record.seq > round.since;
  return tracked.some((p) => (record.propSeq[p] ?? 0) > round.since);
}

function userItem(user: UserRecord, round: DeltaState, req: DeltaRequest): Record<string, unknown> | undefined {
  if (user.createdSeq > round.until) return undefined;
  const initial = round.since === 0;
  if (user.deletedSeq !== undefined) {
    if (initial || user.deletedSeq > round.until || user.createdSeq > round.since || user.deletedSeq <= round.since) return undefined;
    // Deleted users go to the recycle bin and can be restored: reason "changed".
    return { id: user.id, '@removed': { reason: 'changed' } };
  }
  const select = round.select ?? undefined;
  if (!initial && !changedIn(user, round, select)) return undefined;
  const item = req.userView(user, select?.filter((p) => p !== 'manager'));
  item.id = user.id;
  if (select?.includes('manager')) {
    const managerChanged = initial || (user.propSeq.manager ?? 0) > round.since;
    if (managerChanged) item['manager@delta'] = user.managerId ? [{ '@odata.type': '#microsoft.graph.user', id: user.managerId }] : [];
  }
  return item;
}

function groupItem(group: GroupRecord, round: DeltaState, req: DeltaRequest): Record<string, unknown> | undefined {
  if (group.createdSeq > round.until) return undefined;
  const initial = round.since === 0;
  if (group.deletedSeq !== undefined) {
    if (initial || group.deletedSeq > round.until || group.createdSeq > round.since || group.deletedSeq <= round.since) return undefined;
    return { id: group.id, '@removed': { reason: 'changed' } };
  }
  const select = round.select ?? undefined;
  const tracksMembers = !select || select.includes('members');
  if (!initial && !changedIn(group, round, select)) return undefined;
  const item = req.groupView(group, select?.filter((p) => p !== 'members'));
  item.id = group.id;
  if (tracksMembers) {
    const members = initial ? [...group.members].map((id) => ({ '@odata.type': '#microsoft.graph.user', id })) : memberChanges(group, round);
    if (members.length > 0) item['members@delta'] = members;
  }
  return item;
}

function memberChanges(group: GroupRecord, round: DeltaState): Record<string, unknown>[] {
  const last = new Map<string, boolean>();
  for (const event of group.memberEvents) {
    if (event.seq > round.since && event.seq <= round.until) last.set(event.memberId, event.removed);
  }
  return [...last].map(([id, removed]) => (removed ? { '@odata.type': '#microsoft.graph.user', id, '@removed': removedMember } : { '@odata.type': '#microsoft.graph.user', id }));
}
