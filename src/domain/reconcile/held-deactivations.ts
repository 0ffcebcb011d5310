import type { ConnectionStatus } from '../connections/connection-state';
import type { ConnectionRecord } from '../connections/connection';
import { withNames, type Named } from '../directory/directory-names';
import type { Condition } from '../ports/document-store';
import { mutateUserBinding } from '../provisioning/binding-records';
import { err, ok, type Result } from '../result';
import { bumpUnchanged, sendAll, type NudgeDeps } from './binding-nudges';
import { cancelledChangeCode, cancelledDeactivationCode, isDeactivation, type GuardedChange } from './deactivation-guard';
import { guardPartition, heldId, releasedTtlSeconds, resetWindow, setHold, type GuardDeps, type HeldDeactivationRecord } from './store-deactivation-guard';

export type HeldDeactivationsDeps = GuardDeps & NudgeDeps;

export type HeldDeactivationsFailure =
  | { readonly code: 'connection_not_found'; readonly message: string }
  /** Nothing is held and the connection is not paused: there is nothing to confirm or cancel. */
  | { readonly code: 'nothing_held'; readonly message: string };

/** A held change as the API shows it. */
export interface HeldDeactivationView {
  readonly userId: string;
  readonly m365UserId: string;
  readonly heldAt: string;
  /** What was held: a deactivation, a delete, an attribute write or a rename. */
  readonly change: GuardedChange;
  /** The attributes a held write sets (names only). */
  readonly attributes: readonly string[];
}

export interface HeldDeactivationsPage {
  readonly status: ConnectionStatus;
  readonly count: number;
  /** Each with who the user is, as the directory holds them now (absent once deleted). */
  readonly items: Named<HeldDeactivationView>[];
  readonly nextCursor?: string;
}

const notReleased: readonly Condition[] = [
  { field: 'kind', op: 'eq', value: 'held' },
  { field: 'released', op: 'eq', value: false },
];

/** How often confirming or cancelling looks again for deactivations held while it ran. */
const maxSweeps = 5;

async function readConnection(deps: GuardDeps, connectionId: string): Promise<ConnectionRecord | undefined> {
  return (await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
}

function notFound(connectionId: string): HeldDeactivationsFailure {
  return { code: 'connection_not_found', message: `connection ${connectionId} not found` };
}

/** GET /connections/{id}/deactivations: what the guard holds (deactivations, deletes, writes), oldest first. */
export async function listHeldDeactivations(deps: GuardDeps, connectionId: string, query: { readonly limit: number; readonly cursor?: string }): Promise<Result<HeldDeactivationsPage, HeldDeactivationsFailure>> {
  const connection = await readConnection(deps, connectionId);
  if (connection === undefined) return err(notFound(connectionId));
  const pk = guardPartition(connectionId);
  const [count, page] = await Promise.all([
    deps.store.count('state', { pk, where: notReleased }),
    deps.store.query<HeldDeactivationRecord>('state', { pk, where: notReleased, orderBy: { field: 'heldAt', direction: 'asc' }, limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) }),
  ]);
  return ok({
    status: connection.status,
    count,
    items: await withNames(deps.store, page.items.map(({ data }): HeldDeactivationView => ({ userId: data.userId, m365UserId: data.m365UserId, heldAt: data.heldAt, change: data.change ?? 'deactivate', attributes: data.attributes ?? ['accountEnabled'] }))),
    ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
  });
}

async function heldBatch(deps: GuardDeps, connectionId: string): Promise<{ record: HeldDeactivationRecord; etag: string }[]> {
  const page = await deps.store.query<HeldDeactivationRecord>('state', { pk: guardPartition(connectionId), where: notReleased, limit: 500 });
  return page.items.map((doc) => ({ record: doc.data, etag: doc.etag }));
}

/**
 * Works through the held deactivations a batch at a time: the counting window starts again, the
 * connection resumes, and `settle` decides each one. Deactivations held while this runs (a worker
 * that read the paused status just before) are swept up too.
 */
async function decideAll(deps: HeldDeactivationsDeps, connectionId: string, settle: (held: { record: HeldDeactivationRecord; etag: string }[]) => Promise<number>): Promise<Result<{ status: ConnectionStatus; decided: number }, HeldDeactivationsFailure>> {
  const connection = await readConnection(deps, connectionId);
  if (connection === undefined) return err(notFound(connectionId));
  let batch = await heldBatch(deps, connectionId);
  if (batch.length === 0 && connection.status !== 'sync_paused') {
    return err({ code: 'nothing_held', message: `connection ${connectionId} holds no deactivations and is ${connection.status}` });
  }
  await resetWindow(deps, connectionId);
  let decided = 0;
  let status: ConnectionStatus | undefined = connection.status;
  for (let sweep = 0; sweep < maxSweeps; sweep += 1) {
    decided += await settle(batch);
    batch = await heldBatch(deps, connectionId);
    if (batch.length > 0) continue;
    status = await setHold(deps, connectionId, 'resume');
    // Held after our last look but before the resume landed.
    batch = await heldBatch(deps, connectionId);
    if (batch.length === 0) break;
  }
  if (status === undefined) return err(notFound(connectionId));
  return ok({ status, decided });
}

/**
 * POST /connections/{id}/deactivations/confirm: every held change is released and its user
 * nudged, so the worker writes it (a write only as it was held); the connection is `active` again.
 */
export async function confirmDeactivations(deps: HeldDeactivationsDeps, connectionId: string): Promise<Result<{ status: ConnectionStatus; released: number }, HeldDeactivationsFailure>> {
  const done = await decideAll(deps, connectionId, async (batch) => {
    const released: HeldDeactivationRecord[] = [];
    for (const { record, etag } of batch) {
      const replaced = await deps.store.replace('state', guardPartition(connectionId), heldId(record.userId), { ...record, released: true }, { ifMatch: etag, ttlSeconds: releasedTtlSeconds });
      if (replaced.ok) released.push(record);
    }
    // A binding that changed since its deactivation was held has its own nudge already; the release waits for it.
    await sendAll(deps.sender, await bumpUnchanged(deps, released.map((r) => ({ connectionId, userId: r.userId, incarnation: r.incarnation, changeSeq: r.changeSeq })), 'reconcile'));
    return released.length;
  });
  if (!done.ok) return done;
  deps.logger.info('held deactivations confirmed', { connectionId, released: done.value.decided });
  return ok({ status: done.value.status, released: done.value.decided });
}

/**
 * POST /connections/{id}/deactivations/cancel: every held change is dropped; its binding shows
 * `error` with code DEACTIVATION_CANCELLED (the account stays enabled) or CHANGE_CANCELLED (the
 * account keeps its values) until the user changes again. The connection is `active` again.
 */
export async function cancelDeactivations(deps: HeldDeactivationsDeps, connectionId: string): Promise<Result<{ status: ConnectionStatus; cancelled: number }, HeldDeactivationsFailure>> {
  const done = await decideAll(deps, connectionId, async (batch) => {
    let cancelled = 0;
    const at = deps.clock.now().toISOString();
    for (const { record, etag } of batch) {
      const deactivation = isDeactivation(record.change ?? 'deactivate');
      const lastError = deactivation
        ? { code: cancelledDeactivationCode, message: 'An admin cancelled this deactivation, which the mass-deactivation guard held; the Microsoft 365 account stays enabled until the user changes again.', at }
        : { code: cancelledChangeCode, message: `An admin cancelled this write (${(record.attributes ?? []).join(', ')}), which the mass-change guard held; the Microsoft 365 account keeps its values until the user changes again.`, at };
      await mutateUserBinding(deps.store, connectionId, record.userId, (current) => {
        if (current === undefined || current.incarnation !== record.incarnation || current.changeSeq !== record.changeSeq) return undefined;
        return { ...current, state: 'error', lastError, updatedAt: at };
      });
      const deleted = await deps.store.delete('state', guardPartition(connectionId), heldId(record.userId), { ifMatch: etag });
      if (deleted.ok) cancelled += 1;
    }
    return cancelled;
  });
  if (!done.ok) return done;
  deps.logger.info('held deactivations cancelled', { connectionId, cancelled: done.value.decided });
  return ok({ status: done.value.status, cancelled: done.value.decided });
}
