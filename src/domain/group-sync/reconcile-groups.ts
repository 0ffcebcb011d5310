import type { Group } from '../directory/group-schemas';
import type { DocumentStore } from '../ports/document-store';
import type { GroupBindingRecord } from '../provisioning/binding';
import { readConnection } from '../provisioning/bind-user';
import type { GatewayFailure } from '../provisioning/m365-user-gateway';
import type { GroupsReconciler } from '../reconcile/reconcile-deps';
import { reconcilePartition } from '../reconcile/reconcile-records';
import { desiredMembers, membersDigest, type DesiredMembers } from './desired-members';
import { nudgeGroupSync } from './group-sync-nudges';
import { groupSyncRecordsOf, type GroupSyncRecord } from './group-sync-record';
import type { GroupDeltaItem } from './m365-group-gateway';
import type { GroupSyncDeps } from './sync-group';

export interface ReconcileGroupsOptions {
  /** Ignore the stored delta link and read every group again (a full round). */
  readonly fullResync?: boolean;
  /** Extends the caller's lease on the connection; false when it was lost: stop and persist nothing more. */
  readonly keepLease?: () => Promise<boolean>;
}

/** What one reconciliation of a connection's bound groups found and did. */
export interface GroupReconcileReport {
  readonly connectionId: string;
  /** Set when nothing was done: the connection is missing or cannot be used now (its status). */
  readonly skipped?: string;
  /** The lease was lost mid-way: nothing was nudged and the delta link was left as it was. */
  readonly leaseLost?: boolean;
  /** The delta round read every group (no valid delta link, or a forced resync). */
  readonly fullRound: boolean;
  readonly deltaPages: number;
  /** Bound groups changed in Microsoft 365 away from what the directory wants. */
  readonly driftedGroups: number;
  /** Group syncs queued: drift, plus groups never synced, unbound, failed and due, stuck, or whose members changed. */
  readonly nudgedGroups: number;
  /** Why the delta round stopped early; the sweep's nudges were still sent and the delta link kept. */
  readonly deltaFailure?: GatewayFailure;
}

/** Where the next groups round starts (container `state`, the connection's reconcile partition, id `groups-delta`). */
interface GroupDeltaState {
  readonly connectionId: string;
  /** The tenant the link was issued for: a connection re-consented to another tenant starts over. */
  readonly tenantId: string | undefined;
  readonly deltaLink: string;
  readonly updatedAt: string;
}

const groupsDeltaId = 'groups-delta';
/** A nudge unhandled for this long is sent again: its message was lost after the record was bumped. */
const stuckAfterMs = 5 * 60_000;
/** A long delta round renews the caller's lease every this many pages. */
const leaseCheckPages = 20;
/** Failed groups are retried after 1 minute, doubling per failed attempt, at most every 6 hours. */
const errorRetry = { firstMs: 60_000, maxMs: 6 * 60 * 60_000 };

/** Membership and attribute changes of one linked group over a delta round. */
interface GroupChange {
  removed: boolean;
  displayName?: string;
  description?: string | null;
  hasDescription: boolean;
  /** Member id to whether the round last showed it added (true) or removed (false). */
  readonly members: Map<string, boolean>;
}

async function groupBindingsOfConnection(store: DocumentStore, connectionId: string): Promise<GroupBindingRecord[]> {
  const found: GroupBindingRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query<GroupBindingRecord>('bindings', { pk: connectionId, where: [{ field: 'kind', op: 'eq', value: 'group' }], limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.items.map((doc) => doc.data));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

function retryDue(record: GroupSyncRecord, nowMs: number): boolean {
  if (record.lastError === undefined) return false;
  const waitMs = Math.min(errorRetry.maxMs, errorRetry.firstMs * 2 ** Math.max(0, record.attempts - 1));
  return nowMs >= Date.parse(record.lastError.at) + waitMs;
}

function sameDescription(a: string | null | undefined, b: string | null | undefined): boolean {
  return (a ?? '') === (b ?? '');
}

function accumulate(changes: Map<string, GroupChange>, item: GroupDeltaItem): void {
  let change = changes.get(item.id);
  if (change === undefined) {
    change = { removed: false, hasDescription: false, members: new Map() };
    changes.set(item.id, change);
  }
  change.removed = item.removed;
  if (item.displayName !== undefined) change.displayName = item.displayName;
  if (item.description !== undefined) {
    change.description = item.description;
    change.hasDescription = true;
  }
  for (const id of item.membersAdded) change.members.set(id, true);
  for (const id of item.membersRemoved) change.members.set(id, false);
}

/** Whether the members a round showed differ from the desired ones: all of them in a full round, the changes otherwise. */
function membersDrifted(change: GroupChange, desired: DesiredMembers, fullRound: boolean): boolean {
  const allowed = (id: string) => desired.include.has(id) || desired.keep.has(id);
  if (fullRound) {
    const listed = new Set([...change.members].filter(([, present]) => present).map(([id]) => id));
    return [...desired.include].some((id) => !listed.has(id)) || [...listed].some((id) => !allowed(id));
  }
  return [...change.members].some(([id, present]) => (present ? !allowed(id) : desired.include.has(id)));
}

/**
 * The groups part of a connection's reconciliation (the caller holds the connection's lease):
 * - a sweep over the sync records: groups bound but never synced, unbound but not let go, failed
 *   and due for a retry (1 minute doubling to 6 hours), nudged but unhandled for minutes, or whose
 *   desired members changed since the last complete pass;
 * - `groups/delta` with `members@delta` from the stored delta link (a full round without one, or
 *   when it expired): a linked group deleted, renamed or re-described in Microsoft 365, given a
 *   member that does not belong or losing one that does, is nudged. The directory wins.
 * Writes happen in the group-sync queue, one group at a time; this only reads and nudges. The
 * delta link is stored after the nudges are sent, so a run that dies reads the same changes again.
 */
export async function reconcileGroups(deps: GroupSyncDeps, connectionId: string, options: ReconcileGroupsOptions = {}): Promise<GroupReconcileReport> {
  const { store } = deps;
  const connection = await readConnection(store, connectionId);
  if (connection === undefined || (connection.status !== 'active' && connection.status !== 'sync_paused')) {
    return { connectionId, skipped: connection?.status ?? 'missing', fullRound: false, deltaPages: 0, driftedGroups: 0, nudgedGroups: 0 };
  }
  const nowMs = deps.clock.now().getTime();
  const records = await groupSyncRecordsOf(store, connectionId);
  const bindings = new Map((await groupBindingsOfConnection(store, connectionId)).map((b) => [b.groupId, b]));
  const nudges = new Set<string>();
  const desiredCache = new Map<string, DesiredMembers>();
  const desiredOf = async (groupId: string): Promise<DesiredMembers> => {
    let desired = desiredCache.get(groupId);
    if (desired === undefined) {
      desired = await desiredMembers(store, connectionId, groupId);
      desiredCache.set(groupId, desired);
    }
    return desired;
  };

  const synced = new Set(records.map((r) => r.groupId));
  for (const binding of bindings.values()) {
    if (binding.expansion !== 'unbinding' && !synced.has(binding.groupId)) nudges.add(binding.groupId);
  }
  const linked = new Map<string, GroupSyncRecord>();
  for (const record of records) {
    const binding = bindings.get(record.groupId);
    if (binding === undefined || binding.expansion === 'unbinding') nudges.add(record.groupId);
    else if (record.lastError !== undefined) {
      if (retryDue(record, nowMs)) nudges.add(record.groupId);
    } else if (record.handledChangeSeq < record.changeSeq) {
      if (nowMs - Date.parse(record.updatedAt) >= stuckAfterMs) nudges.add(record.groupId);
    } else if (record.m365GroupId === undefined || record.membersDigest !== membersDigest((await desiredOf(record.groupId)).include)) {
      nudges.add(record.groupId);
    }
    // A failed group waits for its retry, which brings it wholly in step; drift does not hasten it.
    if (binding !== undefined && binding.expansion !== 'unbinding' && record.m365GroupId !== undefined && record.lastError === undefined) linked.set(record.m365GroupId, record);
  }

  let fullRound = false;
  let deltaPages = 0;
  let driftedGroups = 0;
  let deltaFailure: GatewayFailure | undefined;
  let deltaLink: string | undefined;
  if (linked.size > 0) {
    const round = await readDeltaRound(deps, connectionId, connection.tenantId, new Set(linked.keys()), options);
    if (round.leaseLost) return { connectionId, leaseLost: true, fullRound: round.fullRound, deltaPages: round.pages, driftedGroups: 0, nudgedGroups: 0 };
    fullRound = round.fullRound;
    deltaPages = round.pages;
    deltaFailure = round.failure;
    deltaLink = round.deltaLink;
    if (round.failure === undefined) {
      for (const [m365GroupId, record] of linked) {
        const change = round.changes.get(m365GroupId);
        if (nudges.has(record.groupId)) continue;
        // A full round lists every group there is: a linked one missing from it was deleted.
        if (change === undefined ? round.fullRound : await drifted(deps, record, change, await desiredOf(record.groupId), round.fullRound)) {
          driftedGroups += 1;
          nudges.add(record.groupId);
        }
      }
    }
  }

  if (options.keepLease !== undefined && !(await options.keepLease())) {
    return { connectionId, leaseLost: true, fullRound, deltaPages, driftedGroups, nudgedGroups: 0 };
  }
  for (const groupId of nudges) await nudgeGroupSync(deps, connectionId, groupId, 'reconcile');
  if (deltaLink !== undefined) {
    await store.upsert<GroupDeltaState>('state', reconcilePartition(connectionId), groupsDeltaId, { connectionId, tenantId: connection.tenantId, deltaLink, updatedAt: deps.clock.now().toISOString() });
  }
  const report: GroupReconcileReport = { connectionId, fullRound, deltaPages, driftedGroups, nudgedGroups: nudges.size, ...(deltaFailure === undefined ? {} : { deltaFailure }) };
  deps.logger.info('groups reconciled', { connectionId, fullRound, deltaPages, driftedGroups, nudgedGroups: nudges.size, ...(deltaFailure === undefined ? {} : { deltaFailure: deltaFailure.code }) });
  return report;
}

async function drifted(deps: GroupSyncDeps, record: GroupSyncRecord, change: GroupChange, desired: DesiredMembers, fullRound: boolean): Promise<boolean> {
  if (change.removed) return true;
  const group = (await deps.store.get<Group>('groups', record.groupId, record.groupId))?.data;
  if (group === undefined) return false;
  if (change.displayName !== undefined && change.displayName !== group.name) return true;
  if (change.hasDescription && !sameDescription(change.description, group.description)) return true;
  return membersDrifted(change, desired, fullRound);
}

interface DeltaRound {
  readonly fullRound: boolean;
  readonly pages: number;
  readonly changes: Map<string, GroupChange>;
  readonly deltaLink?: string;
  readonly failure?: GatewayFailure;
  readonly leaseLost?: boolean;
}

/**
 * Follows one delta round to its delta link, keeping the changes of the `tracked` groups only. A
 * stored link that expired (or that Graph no longer takes) starts a full round instead, once.
 */
async function readDeltaRound(deps: GroupSyncDeps, connectionId: string, tenantId: string | undefined, tracked: ReadonlySet<string>, options: ReconcileGroupsOptions): Promise<DeltaRound> {
  const stored = options.fullResync === true ? undefined : (await deps.store.get<GroupDeltaState>('state', reconcilePartition(connectionId), groupsDeltaId))?.data;
  let link = stored !== undefined && stored.tenantId === tenantId ? stored.deltaLink : undefined;
  let fullRound = link === undefined;
  let restarted = fullRound;
  let changes = new Map<string, GroupChange>();
  let pages = 0;
  const gateway = deps.gateways.forConnection(connectionId);
  for (;;) {
    const page = await gateway.deltaPage(link);
    pages += 1;
    const expired = page.ok ? page.value.kind === 'expired' : page.error.kind === 'permanent';
    if (expired && !restarted) {
      deps.logger.info('group delta link no longer valid; reading every group', { connectionId });
      link = undefined;
      fullRound = true;
      restarted = true;
      changes = new Map();
      continue;
    }
    if (!page.ok || page.value.kind === 'expired') {
      const failure: GatewayFailure = page.ok ? { kind: 'permanent', code: 'syncStateNotFound', message: 'groups/delta answered a fresh round as expired' } : page.error;
      if (failure.kind === 'transient' && failure.throttled && failure.retryAfterMs !== undefined) deps.throttle.throttled(connectionId, deps.clock.now().getTime() + failure.retryAfterMs);
      return { fullRound, pages, changes, failure };
    }
    for (const item of page.value.items) if (tracked.has(item.id)) accumulate(changes, item);
    if (pages % leaseCheckPages === 0 && options.keepLease !== undefined && !(await options.keepLease())) return { fullRound, pages, changes, leaseLost: true };
    if (page.value.nextLink !== undefined) {
      link = page.value.nextLink;
      continue;
    }
    return { fullRound, pages, changes, ...(page.value.deltaLink === undefined ? {} : { deltaLink: page.value.deltaLink }) };
  }
}

/** The groups part of a reconcile run, as the run calls it under the connection's lease. */
export function groupsReconciler(deps: GroupSyncDeps): GroupsReconciler {
  return async (run) => {
    const report = await reconcileGroups(deps, run.connection.id, { fullResync: run.forceFull, keepLease: run.keepLease });
    if (report.leaseLost === true) return 'lease_lost';
    return {
      fullRound: report.fullRound,
      deltaPages: report.deltaPages,
      driftedGroups: report.driftedGroups,
      nudgedGroups: report.nudgedGroups,
      ...(report.skipped === undefined ? {} : { skipped: report.skipped }),
      ...(report.deltaFailure === undefined ? {} : { deltaFailure: report.deltaFailure.code }),
    };
  };
}
