import type { Condition } from '../ports/document-store';
import type { UserBindingRecord } from '../provisioning/binding';
import { deleteAfterMs } from '../provisioning/lifecycle-settings';
import { bumpUnchanged, hasOutstandingWork, sendAll } from './binding-nudges';
import type { ReconcileDeps, ReconcileRun } from './reconcile-deps';

/** What the account-lifecycle part of a run did. */
export interface LifecycleReport {
  /** Deprovisioned accounts past their grace period, nudged so the worker deletes them. */
  readonly dueDeletions: number;
}

const pageSize = 500;

/**
 * The account-lifecycle part of a run: with `disable_then_delete`, bindings whose account has been
 * disabled longer than `deleteAfterDays` are nudged; the worker deletes the account (through the
 * mass-change guard). Returns undefined when the lease was lost.
 */
export async function runLifecycleSweep(deps: ReconcileDeps, run: ReconcileRun): Promise<LifecycleReport | undefined> {
  const settings = run.connection.settings;
  if (settings.deprovisionAction !== 'disable_then_delete') return { dueDeletions: 0 };
  const cutoff = new Date(deps.clock.now().getTime() - deleteAfterMs(settings)).toISOString();
  const where: Condition[] = [
    { field: 'kind', op: 'eq', value: 'user' },
    { field: 'state', op: 'eq', value: 'deprovisioned' },
    { field: 'disabledAt', op: 'le', value: cutoff },
    { field: 'deletedAt', op: 'exists', value: false },
  ];
  let dueDeletions = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<UserBindingRecord>('bindings', { pk: run.connection.id, where, limit: pageSize, ...(cursor === undefined ? {} : { cursor }) });
    const due = page.items.map((doc) => doc.data).filter((b) => b.m365UserId !== undefined && !hasOutstandingWork(b));
    dueDeletions += await sendAll(deps.sender, await bumpUnchanged(deps, due, 'grace_expired'));
    if (!(await run.keepLease())) return undefined;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return { dueDeletions };
}
