import type { Condition } from '../ports/document-store';
import type { UserBindingRecord } from '../provisioning/binding';
import { deleteAfterMs } from '../provisioning/lifecycle-settings';
import { bumpUnchanged, hasOutstandingWork, sendAll } from './binding-nudges';
import type { ReconcileDeps, ReconcileRun } from './reconcile-deps';

/** What the account-lifecycle part of a run did. */
export interface LifecycleReport {
  /** Deprovisioned accounts past their grace period, nudged so the worker deletes them. */
  readonly dueDeletions: number;
  /** Bindings waiting for a seat (`LICENSE_UNAVAILABLE`) nudged because their SKU has free seats now. */
  readonly licenseRetries: number;
}

const pageSize = 500;

/**
 * The account-lifecycle part of a run: with `disable_then_delete`, bindings whose account has been
 * disabled longer than `deleteAfterDays` are nudged; the worker deletes the account (through the
 * mass-change guard). Returns undefined when the lease was lost.
 */
export async function runLifecycleSweep(deps: ReconcileDeps, run: ReconcileRun): Promise<LifecycleReport | undefined> {
  const dueDeletions = await nudgeDueDeletions(deps, run);
  if (dueDeletions === undefined) return undefined;
  const licenseRetries = await nudgeWhenSeatsFree(deps, run);
  if (licenseRetries === undefined) return undefined;
  return { dueDeletions, licenseRetries };
}

async function nudgeDueDeletions(deps: ReconcileDeps, run: ReconcileRun): Promise<number | undefined> {
  const settings = run.connection.settings;
  if (settings.deprovisionAction !== 'disable_then_delete') return 0;
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
  return dueDeletions;
}

/**
 * Bindings in `error` `LICENSE_UNAVAILABLE` name the SKU without a free seat; once the tenant's
 * subscribed SKUs show free seats of it, as many of them as there are seats are nudged (the
 * worker checks again). One `subscribedSkus` read per run, and only when some binding waits.
 */
async function nudgeWhenSeatsFree(deps: ReconcileDeps, run: ReconcileRun): Promise<number | undefined> {
  if (deps.subscribedSkus === undefined) return 0;
  const where: Condition[] = [
    { field: 'kind', op: 'eq', value: 'user' },
    { field: 'state', op: 'eq', value: 'error' },
    { field: 'lastError.code', op: 'eq', value: 'LICENSE_UNAVAILABLE' },
  ];
  const waiting: UserBindingRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<UserBindingRecord>('bindings', { pk: run.connection.id, where, limit: pageSize, ...(cursor === undefined ? {} : { cursor }) });
    waiting.push(...page.items.map((doc) => doc.data).filter((b) => !hasOutstandingWork(b)));
    cursor = page.nextCursor;
  } while (cursor !== undefined && waiting.length < pageSize);
  if (waiting.length === 0) return 0;
  const skus = await deps.subscribedSkus(run.connection.id);
  if (!skus.ok) {
    deps.logger.warn('could not read the subscribed SKUs; bindings waiting for a seat wait for the next run', { connectionId: run.connection.id, code: skus.error.code });
    return 0;
  }
  const free = new Map(skus.value.map((sku) => [sku.skuPartNumber, Math.max(0, sku.enabled - sku.consumed)]));
  const due = waiting.filter((binding) => {
    const named = [...free.keys()].filter((name) => binding.lastError?.message.includes(name) === true);
    if (named.length === 0 || named.some((name) => (free.get(name) ?? 0) <= 0)) return false;
    for (const name of named) free.set(name, (free.get(name) ?? 0) - 1);
    return true;
  });
  const sent = await sendAll(deps.sender, await bumpUnchanged(deps, due, 'retry'));
  return (await run.keepLease()) ? sent : undefined;
}
