import { backoffDelayMs } from '../backoff';
import type { Condition } from '../ports/document-store';
import type { UserBindingRecord } from '../provisioning/binding';
import { bumpUnchanged, hasOutstandingWork, outstandingNudge, sendAll } from './binding-nudges';
import { isCancelledChange } from './deactivation-guard';
import { readReconcileRecord, reconcilePartition, retryId, stuckCheckId, writeReconcileRecord, type RetryRecord, type StuckCheckRecord } from './reconcile-records';
import type { ReconcileDeps, ReconcileRun } from './reconcile-deps';

/** Work left outstanding this long is taken for lost (a nudge that never reached the queue) and sent again. */
export const stuckAfterMs = 5 * 60_000;
const retryBackoff = { firstMs: 60_000, maxMs: 6 * 3600_000 };
/** A backoff record outlives the longest wait by far; it only expires once the binding stopped failing. */
const retryRecordTtlSeconds = 30 * 24 * 3600;

/** How long the `step`-th retry of a failing binding waits after its last failure: 1 minute, doubling, at most 6 hours. */
export function retryDelayMs(step: number): number {
  return backoffDelayMs(step, retryBackoff, false);
}

/** What the safety net did. */
export interface SafetyNetReport {
  /** Outstanding work nudged again after `stuckAfterMs` without progress. */
  readonly stuck: number;
  /** Bindings in `error` whose backoff was due, nudged to try again. */
  readonly retried: number;
  /** Bindings in `error` still waiting out their backoff. */
  readonly backingOff: number;
  /** Bindings whose held deactivation or write an admin cancelled: left alone until the user changes. */
  readonly cancelled: number;
}

const pageSize = 500;

/**
 * The safety net of a run: bindings in `error` are retried with exponential backoff (1 minute,
 * doubling, capped at 6 hours; any change of the user starts again at 1 minute), and work left
 * outstanding for `stuckAfterMs` is nudged again under its own change number, which covers a
 * nudge lost after its store write. Returns undefined when the lease was lost.
 */
export async function runSafetyNet(deps: ReconcileDeps, run: ReconcileRun): Promise<SafetyNetReport | undefined> {
  const connectionId = run.connection.id;
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - stuckAfterMs).toISOString();
  const counts = { stuck: 0, retried: 0, backingOff: 0, cancelled: 0 };

  const unsettled: Condition[] = [
    { field: 'kind', op: 'eq', value: 'user' },
    { field: 'state', op: 'in', values: ['pending', 'error'] },
  ];
  const ok = await forEachPage(deps, connectionId, unsettled, run, async (bindings) => {
    const stuck: UserBindingRecord[] = [];
    const failed: UserBindingRecord[] = [];
    for (const binding of bindings) {
      if (hasOutstandingWork(binding)) {
        if (binding.updatedAt < cutoff) stuck.push(binding);
      } else if (binding.state === 'error') {
        if (isCancelledChange(binding.lastError?.code)) counts.cancelled += 1;
        else failed.push(binding);
      }
    }
    counts.stuck += await sendAll(deps.sender, stuck.map(outstandingNudge));
    const due = await dueRetries(deps, connectionId, failed, now.getTime());
    counts.backingOff += failed.length - due.length;
    counts.retried += await retry(deps, connectionId, due);
  });
  if (!ok) return undefined;

  // Finished work whose next change never got its nudge: only bindings updated since the last check.
  const since = (await readReconcileRecord<StuckCheckRecord>(deps.store, connectionId, stuckCheckId))?.checkedUntil;
  const settled: Condition[] = [
    { field: 'kind', op: 'eq', value: 'user' },
    { field: 'state', op: 'in', values: ['provisioned', 'deprovisioned'] },
    { field: 'updatedAt', op: 'lt', value: cutoff },
    ...(since === undefined ? [] : [{ field: 'updatedAt', op: 'ge', value: since } as const]),
  ];
  const settledOk = await forEachPage(deps, connectionId, settled, run, async (bindings) => {
    counts.stuck += await sendAll(deps.sender, bindings.filter(hasOutstandingWork).map(outstandingNudge));
  });
  if (!settledOk) return undefined;
  await writeReconcileRecord<StuckCheckRecord>(deps.store, connectionId, stuckCheckId, { checkedUntil: cutoff });
  return counts;
}

async function forEachPage(deps: ReconcileDeps, connectionId: string, where: readonly Condition[], run: ReconcileRun, handle: (bindings: UserBindingRecord[]) => Promise<void>): Promise<boolean> {
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<UserBindingRecord>('bindings', { pk: connectionId, where, limit: pageSize, ...(cursor === undefined ? {} : { cursor }) });
    await handle(page.items.map((doc) => doc.data));
    if (!(await run.keepLease())) return false;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return true;
}

/** The failed bindings whose backoff has run out, each with the step its retry takes. */
async function dueRetries(deps: ReconcileDeps, connectionId: string, failed: readonly UserBindingRecord[], nowMs: number): Promise<{ binding: UserBindingRecord; step: number }[]> {
  if (failed.length === 0) return [];
  const records = await deps.store.getMany<RetryRecord>('state', reconcilePartition(connectionId), failed.map((b) => retryId(b.userId)));
  const byUser = new Map(records.map((doc) => [doc.data.userId, doc.data]));
  const due: { binding: UserBindingRecord; step: number }[] = [];
  for (const binding of failed) {
    const record = byUser.get(binding.userId);
    // The user (or binding) changed since our last retry: its failures start over.
    const step = record !== undefined && record.incarnation === binding.incarnation && record.changeSeq === binding.changeSeq ? record.step : 0;
    const failedAtMs = Date.parse(binding.lastError?.at ?? binding.updatedAt);
    if (nowMs >= failedAtMs + retryDelayMs(step)) due.push({ binding, step });
  }
  return due;
}

async function retry(deps: ReconcileDeps, connectionId: string, due: readonly { binding: UserBindingRecord; step: number }[]): Promise<number> {
  if (due.length === 0) return 0;
  const nudges = await bumpUnchanged(deps, due.map((d) => d.binding), 'retry');
  for (const [i, nudge] of nudges.entries()) {
    const entry = due[i];
    if (nudge === undefined || entry === undefined) continue;
    const record: RetryRecord = { userId: entry.binding.userId, incarnation: entry.binding.incarnation, changeSeq: nudge.changeSeq, step: entry.step + 1 };
    await writeReconcileRecord(deps.store, connectionId, retryId(entry.binding.userId), record, retryRecordTtlSeconds);
  }
  // Sent last: a run that dies before this leaves outstanding work, which the next run finds stuck.
  return sendAll(deps.sender, nudges);
}
