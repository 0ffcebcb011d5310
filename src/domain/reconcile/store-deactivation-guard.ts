import type { ConnectionRecord } from '../connections/connection';
import { transition, type ConnectionStatus } from '../connections/connection-state';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import { defaultChangeGuard } from '../connections/connection';
import { guardLimit, isDeactivation, minimumShareLimit, type DeactivationGuard, type DeactivationRequest, type DeactivationVerdict, type GuardedChange } from './deactivation-guard';

export interface GuardDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** The guard's records of a connection (container `state`). */
export function guardPartition(connectionId: string): string {
  return `deactivation-guard:${connectionId}`;
}

/**
 * One requested change, counted in the rolling hour: a deactivation or delete (kind `intent`, id
 * `intent:<user>:<incarnation>:<changeSeq>`), or a write to an account (kind `write_intent`, id
 * `write:<user>:<incarnation>:<changeSeq>`).
 */
interface IntentRecord {
  readonly kind: 'intent' | 'write_intent';
  readonly userId: string;
  readonly at: string;
}

/**
 * A change held for an admin (id `held:<userId>`); `released` once confirmed, until the worker
 * writes it. Records written before writes were guarded have no `change`: they are deactivations.
 * A released record with a `digest` lets through only that write (a confirmed plan's).
 */
export interface HeldDeactivationRecord {
  readonly kind: 'held';
  readonly userId: string;
  readonly incarnation: string;
  readonly changeSeq: number;
  readonly m365UserId: string;
  readonly heldAt: string;
  readonly released: boolean;
  readonly change?: GuardedChange;
  readonly attributes?: readonly string[];
  readonly digest?: string;
}

/** Deactivations before `resetAt` no longer count (id `window`): an admin decided on them. */
interface WindowRecord {
  readonly kind: 'window';
  readonly resetAt: string;
}

export const windowId = 'window';
export function heldId(userId: string): string {
  return `held:${userId}`;
}

const windowMs = 3600_000;
/**
 * Every deactivation waits this long after it was requested before it is written, so a burst
 * (a run's nudges, an HR system suspending a department) is counted whole before any of it passes.
 */
export const burstSettleMs = 2_000;
const intentTtlSeconds = 2 * 3600;
/** A confirmed deactivation the worker never came back for (the user was re-activated) expires. */
export const releasedTtlSeconds = 24 * 3600;

/**
 * The mass-change guard on the document store. Each requested deactivation (or delete) and each
 * write to an existing account is recorded and counted over the last hour, deactivations against
 * `deactivationGuard`, writes against `changeGuard`; while the count stays within the connection's
 * limit it passes (deactivations, and writes of a fan-out, after `burstSettleMs`); beyond it, the
 * change is held, and the connection goes `sync_paused` with the number held. While paused every
 * deactivation is held; writes carry on while their own count allows.
 */
export function createStoreDeactivationGuard(deps: GuardDeps): DeactivationGuard {
  return {
    async admit(request) {
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const verdict = await admitOnce(deps, request);
        if (verdict !== 'resumed') return verdict;
      }
      // Paused and resumed again under our feet three times: count it as a new request would be.
      return countAndDecide(deps, request, await readConnection(deps.store, request.connectionId));
    },
  };
}

async function readConnection(store: DocumentStore, connectionId: string): Promise<ConnectionRecord | undefined> {
  return (await store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
}

async function admitOnce(deps: GuardDeps, request: DeactivationRequest): Promise<DeactivationVerdict | 'resumed'> {
  const pk = guardPartition(request.connectionId);
  const connection = await readConnection(deps.store, request.connectionId);
  // The worker stops for a missing connection before it gets here.
  if (connection === undefined) return { kind: 'proceed' };
  const held = await deps.store.get<HeldDeactivationRecord>('state', pk, heldId(request.userId));
  if (held !== undefined && held.data.released && held.data.incarnation === request.incarnation && (held.data.digest === undefined || held.data.digest === request.digest)) {
    await deps.store.delete('state', pk, heldId(request.userId), { ifMatch: held.etag });
    return { kind: 'proceed' };
  }
  if (request.userEdit === true && request.change === 'update') {
    if (held === undefined || held.data.released) return { kind: 'proceed' };
    // The user's earlier write is held and this one would carry it: it waits in its place, as it is
    // now (unless an admin decided on the held one meanwhile: then decide again).
    if (!(await deps.store.replace('state', pk, heldId(request.userId), heldRecord(deps, request, held.data.heldAt), { ifMatch: held.etag })).ok) return 'resumed';
    const status = await setHold(deps, request.connectionId, 'pause');
    if (status === 'sync_paused') return { kind: 'held' };
    await deps.store.delete('state', pk, heldId(request.userId));
    return 'resumed';
  }
  if (connection.status === 'sync_paused' && isDeactivation(request.change)) {
    await hold(deps, request);
    const status = await setHold(deps, request.connectionId, 'update');
    if (status === 'sync_paused') return { kind: 'held' };
    // An admin confirmed or cancelled between our read and our record: decide again.
    await deps.store.delete('state', pk, heldId(request.userId));
    return 'resumed';
  }
  return countAndDecide(deps, request, connection);
}

async function countAndDecide(deps: GuardDeps, request: DeactivationRequest, connection: ConnectionRecord | undefined): Promise<DeactivationVerdict> {
  if (connection === undefined) return { kind: 'proceed' };
  const pk = guardPartition(request.connectionId);
  const now = deps.clock.now();
  const intent = await recordIntent(deps, request);
  const window = await deps.store.get<WindowRecord>('state', pk, windowId);
  const windowStart = new Date(Math.max(now.getTime() - windowMs, window === undefined ? 0 : Date.parse(window.data.resetAt))).toISOString();
  // Requested before the window: counted back then, or an admin decided on its burst since.
  if (intent.at < windowStart) return { kind: 'proceed' };
  const deactivation = isDeactivation(request.change);
  const guard = deactivation ? connection.settings.deactivationGuard : (connection.settings.changeGuard ?? defaultChangeGuard);
  const count = await deps.store.count('state', { pk, where: [{ field: 'kind', op: 'eq', value: intent.kind }, { field: 'at', op: 'ge', value: windowStart }] });
  if (count > Math.min(guard.maxUsers, minimumShareLimit)) {
    const active = await countActiveBindings(deps.store, request.connectionId);
    // The share is of the users bound before this hour's deactivations, which no longer count as active.
    const limit = guardLimit(guard, deactivation ? active + count : active);
    if (count > limit) {
      await hold(deps, request);
      const status = await setHold(deps, request.connectionId, 'pause');
      deps.logger.warn(`${request.change} held: more ${deactivation ? 'deactivations' : 'account writes'} within an hour than the connection allows`, { connectionId: request.connectionId, userId: request.userId, requested: count, limit, status });
      return { kind: 'held' };
    }
  }
  const settledAtMs = Date.parse(intent.at) + burstSettleMs;
  if ((deactivation || request.burst) && now.getTime() < settledAtMs) return { kind: 'wait', untilMs: settledAtMs };
  // A hold of this user left from a pause the connection no longer has (it lost its authorization meanwhile) is over.
  await deps.store.delete('state', pk, heldId(request.userId));
  return { kind: 'proceed' };
}

/** Bindings of a connection whose users are bound (the denominator of the guards' share rule). */
export function countActiveBindings(store: DocumentStore, connectionId: string): Promise<number> {
  return store.count('bindings', { pk: connectionId, where: [{ field: 'kind', op: 'eq', value: 'user' }, { field: 'state', op: 'in', values: ['pending', 'provisioned', 'error'] }] });
}

/** The request's intent, recorded on its first ask (a redelivered nudge finds it recorded). */
async function recordIntent(deps: GuardDeps, request: DeactivationRequest): Promise<IntentRecord> {
  const pk = guardPartition(request.connectionId);
  const deactivation = isDeactivation(request.change);
  const id = `${deactivation ? 'intent' : 'write'}:${request.userId}:${request.incarnation}:${request.changeSeq}`;
  const mine: IntentRecord = { kind: deactivation ? 'intent' : 'write_intent', userId: request.userId, at: deps.clock.now().toISOString() };
  const created = await deps.store.create<IntentRecord>('state', pk, id, mine, { ttlSeconds: intentTtlSeconds });
  if (created.ok) return mine;
  return (await deps.store.get<IntentRecord>('state', pk, id))?.data ?? mine;
}

async function hold(deps: GuardDeps, request: DeactivationRequest): Promise<void> {
  await deps.store.upsert('state', guardPartition(request.connectionId), heldId(request.userId), heldRecord(deps, request));
}

function heldRecord(deps: GuardDeps, request: DeactivationRequest, heldAt = deps.clock.now().toISOString()): HeldDeactivationRecord {
  return {
    kind: 'held',
    userId: request.userId,
    incarnation: request.incarnation,
    changeSeq: request.changeSeq,
    m365UserId: request.m365UserId,
    heldAt,
    released: false,
    change: request.change,
    attributes: request.attributes,
    digest: request.digest,
  };
}

/** A write an admin confirmed before it was asked for (a plan), for one bound user. */
export type PreReleasedWrite = Omit<DeactivationRequest, 'connectionId' | 'burst' | 'userEdit'>;

/**
 * Records confirmed writes as released holds: the worker's write for that user passes the guard
 * once, without being counted, if it is exactly this write (same digest).
 */
export async function preRelease(deps: GuardDeps, connectionId: string, writes: readonly PreReleasedWrite[]): Promise<void> {
  const at = deps.clock.now().toISOString();
  for (const write of writes) {
    const record: HeldDeactivationRecord = { kind: 'held', heldAt: at, released: true, ...write };
    await deps.store.upsert('state', guardPartition(connectionId), heldId(write.userId), record, { ttlSeconds: releasedTtlSeconds });
  }
}

/** Held deactivations of a connection not yet released. */
export function countHeld(store: DocumentStore, connectionId: string): Promise<number> {
  return store.count('state', { pk: guardPartition(connectionId), where: [{ field: 'kind', op: 'eq', value: 'held' }, { field: 'released', op: 'eq', value: false }] });
}

/** Starts a new counting window: what happened before it was decided on by an admin. */
export async function resetWindow(deps: GuardDeps, connectionId: string): Promise<void> {
  const record: WindowRecord = { kind: 'window', resetAt: deps.clock.now().toISOString() };
  await deps.store.upsert('state', guardPartition(connectionId), windowId, record);
}

/**
 * Writes the held count on the connection. `pause` also moves an active connection to
 * `sync_paused` while anything is held; `update` only refreshes the count of a paused one; `resume` moves a paused
 * connection back to `active` and drops the count. The count is taken after reading the
 * connection and written only if it is unchanged, so concurrent holders converge on the true
 * number. Returns the status afterwards.
 */
export async function setHold(deps: GuardDeps, connectionId: string, change: 'pause' | 'update' | 'resume'): Promise<ConnectionStatus | undefined> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const doc = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
    if (doc === undefined) return undefined;
    const current = doc.data;
    let status = current.status;
    let next: ConnectionRecord;
    const now = deps.clock.now().toISOString();
    if (change === 'resume') {
      const resumed = transition(status, 'sync_resumed');
      if (resumed.ok) status = resumed.value;
      if (status === current.status && current.deactivationHold === undefined) return status;
      const { deactivationHold: _dropped, ...rest } = current;
      next = { ...rest, status, updatedAt: now };
    } else {
      if (change === 'pause') {
        const paused = transition(status, 'sync_paused');
        if (paused.ok) status = paused.value;
      }
      if (status !== 'sync_paused') return status;
      const count = await countHeld(deps.store, connectionId);
      // A holder that lost the race with an admin's confirm or cancel (its hold already decided)
      // must not pause the connection again with nothing left for anyone to decide.
      if (change === 'pause' && count === 0 && current.status !== 'sync_paused') return current.status;
      if (current.status === status && current.deactivationHold?.count === count) return status;
      next = { ...current, status, deactivationHold: { count, since: current.deactivationHold?.since ?? now }, updatedAt: now };
    }
    const replaced = await deps.store.replace<ConnectionRecord>('connections', connectionId, connectionId, next, { ifMatch: doc.etag });
    if (replaced.ok) {
      if (status !== current.status) deps.logger.warn(`connection ${status === 'sync_paused' ? 'paused: held changes wait for an admin' : 'resumed'}`, { connectionId, status, held: next.deactivationHold?.count ?? 0 });
      return status;
    }
    if (replaced.error === 'not_found') return undefined;
    // Spread the retries of many workers holding at once.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
  }
  throw new Error(`connection ${connectionId} kept changing while its held deactivations were counted`);
}
