import { randomUUID } from 'node:crypto';
import type { ConnectionRecord } from '../connections/connection';
import type { ConnectionStatus } from '../connections/connection-state';
import { err, ok, type Result } from '../result';
import { readReconcileRecord, lastRunId, writeReconcileRecord } from './reconcile-records';
import type { GroupsReport, ReconcileDeps, ReconcileRun } from './reconcile-deps';
import { reconcileUsers, type UsersReport } from './reconcile-users';
import { runSafetyNet, type SafetyNetReport } from './safety-net';
import { leaseHolder, StoreLease } from './store-lease';
import { countHeld, setHold } from './store-deactivation-guard';
import { mapConcurrently } from './map-concurrently';

/** How long a run's claim on its connection lasts without renewal; runs renew it as they go. */
export const leaseDurationMs = 2 * 60_000;
/**
 * A run holds its connection's lease at least this long, so requests that arrive together (a double
 * click, two admins, a retried request) collapse into one run even when it finishes at once.
 */
export const minimumLeaseMs = 1_000;
/** Connections the timer reconciles at once. */
const timerConcurrency = 4;

export type RunTrigger = 'timer' | 'on_demand';

/**
 * How a run ended. `lease_lost`: it stalled past its lease and stopped without persisting more;
 * `reauthorization_required`: the grant failed during the run; `failed`: Graph or the store failed
 * (the users round is read again next time; the safety net still ran unless the error was the store's).
 */
export type RunOutcome = 'completed' | 'failed' | 'lease_lost' | 'reauthorization_required';

/** What one run of one connection did; the last one is kept per connection. */
export interface RunReport {
  readonly runId: string;
  readonly connectionId: string;
  readonly trigger: RunTrigger;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly outcome: RunOutcome;
  readonly users?: UsersReport;
  readonly safetyNet?: SafetyNetReport;
  readonly groups?: GroupsReport;
  /** Deactivations the guard holds for an admin after this run. */
  readonly heldDeactivations: number;
  readonly error?: { readonly code: string; readonly message: string };
}

/** Why a run did not start. */
export type ReconcileRefusal =
  | { readonly code: 'connection_not_found'; readonly message: string }
  /** Skipped: the connection waits for a Global Administrator to consent again. */
  | { readonly code: 'reauthorization_required'; readonly message: string }
  /** Pending consent or de-authorized: nothing to reconcile. */
  | { readonly code: 'not_active'; readonly status: ConnectionStatus; readonly message: string }
  /** Another run (on this host or another) holds the connection's lease. */
  | { readonly code: 'lease_held'; readonly runId: string; readonly expiresAt: string; readonly message: string };

export interface StartedRun {
  readonly runId: string;
  readonly connectionId: string;
  readonly leaseExpiresAt: string;
  /** Settles when the run ends; never rejects. */
  readonly finished: Promise<RunReport>;
}

export function reconcileLeaseName(connectionId: string): string {
  return `reconcile:${connectionId}`;
}

async function readConnection(deps: ReconcileDeps, connectionId: string): Promise<ConnectionRecord | undefined> {
  return (await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
}

/**
 * Starts a run of one connection under its lease: users (delta drift and deletions), the safety
 * net, security groups when wired, and the deactivation hold. Refused without starting when the
 * connection waits for re-consent, is not active, or another run holds its lease.
 */
export async function startReconcile(deps: ReconcileDeps, connectionId: string, options: { readonly trigger: RunTrigger; readonly forceFull?: boolean }): Promise<Result<StartedRun, ReconcileRefusal>> {
  const connection = await readConnection(deps, connectionId);
  if (connection === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  if (connection.status === 'reauthorization_required') {
    deps.logger.warn('reconcile skipped: the connection waits for a Global Administrator to consent again', { connectionId, code: connection.reauthorization?.code });
    return err({ code: 'reauthorization_required', message: `connection ${connectionId} waits for a Global Administrator to consent again; reconcile skipped` });
  }
  if (connection.status !== 'active' && connection.status !== 'sync_paused') {
    return err({ code: 'not_active', status: connection.status, message: `connection ${connectionId} is ${connection.status}; there is nothing to reconcile` });
  }
  const runId = randomUUID();
  const lease = await StoreLease.acquire(deps, reconcileLeaseName(connectionId), runId, leaseDurationMs);
  if (!lease.ok) {
    return err({ code: 'lease_held', runId: lease.error.owner, expiresAt: lease.error.expiresAt, message: `a reconcile of connection ${connectionId} is already running (run ${lease.error.owner}); its lease is held until ${lease.error.expiresAt}` });
  }
  const run: ReconcileRun = { runId, connection, forceFull: options.forceFull === true, keepLease: () => lease.value.keep() };
  const notBeforeMs = deps.clock.now().getTime() + minimumLeaseMs;
  const finished = execute(deps, run, options.trigger).finally(() => lease.value.release({ notBeforeMs }).catch(() => undefined));
  return ok({ runId, connectionId, leaseExpiresAt: lease.value.expiresAt, finished });
}

async function execute(deps: ReconcileDeps, run: ReconcileRun, trigger: RunTrigger): Promise<RunReport> {
  const connectionId = run.connection.id;
  const log = deps.logger.child({ connectionId, runId: run.runId });
  const startedAt = deps.clock.now().toISOString();
  const parts: { users?: UsersReport; safetyNet?: SafetyNetReport; groups?: GroupsReport } = {};
  let outcome: RunOutcome = 'completed';
  let error: RunReport['error'];
  try {
    const users = await reconcileUsers(deps, run);
    if (users.ok) {
      parts.users = users.value;
    } else if (users.error.code === 'lease_lost' || users.error.code === 'reauthorization_required') {
      outcome = users.error.code;
    } else {
      outcome = 'failed';
      error = { code: `users_${users.error.code}`, message: users.error.message };
      log.warn('users round failed; the next run reads the same changes again', { code: users.error.code, error: users.error.message });
    }
    if (outcome !== 'lease_lost' && outcome !== 'reauthorization_required') {
      const safetyNet = await runSafetyNet(deps, run);
      if (safetyNet === undefined) outcome = 'lease_lost';
      else parts.safetyNet = safetyNet;
    }
    if (outcome !== 'lease_lost' && outcome !== 'reauthorization_required' && deps.reconcileGroups !== undefined) {
      const groups = await deps.reconcileGroups(run);
      if (groups === 'lease_lost') outcome = 'lease_lost';
      else parts.groups = groups;
    }
  } catch (thrown) {
    outcome = 'failed';
    error = { code: 'INTERNAL', message: thrown instanceof Error ? thrown.message : String(thrown) };
    log.error('reconcile run failed', { error: error.message });
  }
  const heldDeactivations = await heldAfterRun(deps, connectionId).catch(() => 0);
  const report: RunReport = { runId: run.runId, connectionId, trigger, startedAt, finishedAt: deps.clock.now().toISOString(), outcome, ...parts, heldDeactivations, ...(error === undefined ? {} : { error }) };
  if (outcome === 'lease_lost') log.warn('reconcile run lost its lease and stopped; the next run starts over where this one last persisted');
  else log.info('reconcile run finished', { outcome, users: parts.users, safetyNet: parts.safetyNet, groups: parts.groups, heldDeactivations });
  if (outcome !== 'lease_lost') await writeReconcileRecord(deps.store, connectionId, lastRunId, report).catch(() => undefined);
  return report;
}

/**
 * Held deactivations outlive a pause that got lost (the connection needed re-consent meanwhile and
 * came back `active`): the connection is paused again while any are held.
 */
async function heldAfterRun(deps: ReconcileDeps, connectionId: string): Promise<number> {
  const held = await countHeld(deps.store, connectionId);
  if (held > 0) await setHold(deps, connectionId, 'pause');
  return held;
}

/** What GET /connections/{id}/reconcile shows: the run holding the lease, and the last finished run. */
export interface ReconcileStatus {
  readonly running?: { readonly runId: string; readonly leaseExpiresAt: string };
  readonly lastRun?: RunReport;
}

export async function reconcileStatus(deps: ReconcileDeps, connectionId: string): Promise<Result<ReconcileStatus, ReconcileRefusal>> {
  if ((await readConnection(deps, connectionId)) === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  const [holder, lastRun] = await Promise.all([leaseHolder(deps, reconcileLeaseName(connectionId)), readReconcileRecord<RunReport>(deps.store, connectionId, lastRunId)]);
  // A finished run keeps its lease for `minimumLeaseMs`; it is not running any more.
  const running = holder !== undefined && holder.owner !== lastRun?.runId;
  return ok({
    ...(running ? { running: { runId: holder.owner, leaseExpiresAt: holder.expiresAt } } : {}),
    ...(lastRun === undefined ? {} : { lastRun }),
  });
}

/** What one timer run did across connections. */
export interface TimerReport {
  readonly runs: RunReport[];
  /** Connections not reconciled: waiting for re-consent, or their lease was held by another run. */
  readonly skipped: { readonly connectionId: string; readonly reason: ReconcileRefusal['code'] }[];
}

/** The timer's use case: every active or paused connection, and the ones waiting for re-consent reported as skipped. */
export async function reconcileAll(deps: ReconcileDeps): Promise<TimerReport> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<ConnectionRecord>('connections', {
      where: [{ field: 'status', op: 'in', values: ['active', 'sync_paused', 'reauthorization_required'] }],
      limit: 500,
      ...(cursor === undefined ? {} : { cursor }),
    });
    ids.push(...page.items.map((doc) => doc.data.id));
    cursor = page.nextCursor;
  } while (cursor !== undefined);

  const runs: RunReport[] = [];
  const skipped: TimerReport['skipped'] = [];
  await mapConcurrently(ids, timerConcurrency, async (connectionId) => {
    const started = await startReconcile(deps, connectionId, { trigger: 'timer' });
    if (started.ok) runs.push(await started.value.finished);
    else if (started.error.code !== 'connection_not_found' && started.error.code !== 'not_active') skipped.push({ connectionId, reason: started.error.code });
  });
  deps.logger.info('reconcile timer finished', { connections: ids.length, runs: runs.length, skipped });
  return { runs, skipped };
}
