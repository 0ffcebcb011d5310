import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ConnectionRecord } from '../connections/connection';
import type { ConnectionStatus } from '../connections/connection-state';
import type { QueueName } from '../ports/work-queue';
import { err, ok, type Result } from '../result';
import { readReconcileRecord, lastRunId, writeReconcileRecord } from './reconcile-records';
import type { GroupsReport, ReconcileDeps, ReconcileRun } from './reconcile-deps';
import { reconcileUsers, type UsersReport } from './reconcile-users';
import { runLifecycleSweep, type LifecycleReport } from './lifecycle-sweep';
import { runSafetyNet, type SafetyNetReport } from './safety-net';
import { leaseHolder, releaseIfHeldBy, StoreLease, type LeaseHeld } from './store-lease';
import { countHeld, setHold } from './store-deactivation-guard';
import { parseMessage, type MessageSettlement } from '../queue-messages';

/** How long a run's claim on its connection lasts without renewal; runs renew it as they go. */
export const leaseDurationMs = 2 * 60_000;
/**
 * A run holds its connection's lease at least this long, so requests that arrive together (a double
 * click, two admins, a retried request) collapse into one run even when it finishes at once.
 */
export const minimumLeaseMs = 1_000;

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
  readonly lifecycle?: LifecycleReport;
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

/** The queue runs are handed to, so none runs inside an HTTP request or a timer invocation. */
export const reconcileQueue: QueueName = 'reconcile';

/** One run of one connection on the `reconcile` queue. */
export const reconcileMessageSchema = z.strictObject({
  connectionId: z.string().min(1).max(128),
  runId: z.string().min(1).max(64),
  trigger: z.enum(['timer', 'on_demand']),
  forceFull: z.boolean().default(false),
});

export type ReconcileMessage = z.output<typeof reconcileMessageSchema>;

function leaseHeld(connectionId: string, held: LeaseHeld): ReconcileRefusal {
  return { code: 'lease_held', runId: held.owner, expiresAt: held.expiresAt, message: `a reconcile of connection ${connectionId} is already running (run ${held.owner}); its lease is held until ${held.expiresAt}` };
}

async function readConnection(deps: ReconcileDeps, connectionId: string): Promise<ConnectionRecord | undefined> {
  return (await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
}

/**
 * Starts a run of one connection under its lease: users (delta drift and deletions), the safety
 * net, security groups when wired, and the deactivation hold. Refused without starting when the
 * connection waits for re-consent, is not active, or another run holds its lease.
 */
export async function startReconcile(
  deps: ReconcileDeps,
  connectionId: string,
  options: { readonly trigger: RunTrigger; readonly forceFull?: boolean; /** A queued run's id: the lease its request took is this run's. */ readonly runId?: string },
): Promise<Result<StartedRun, ReconcileRefusal>> {
  const connection = await runnableConnection(deps, connectionId);
  if (!connection.ok) return connection;
  const runId = options.runId ?? randomUUID();
  const lease = await StoreLease.acquire(deps, reconcileLeaseName(connectionId), runId, leaseDurationMs);
  if (!lease.ok) return err(leaseHeld(connectionId, lease.error));
  const run: ReconcileRun = { runId, connection: connection.value, forceFull: options.forceFull === true, keepLease: () => lease.value.keep() };
  const notBeforeMs = deps.clock.now().getTime() + minimumLeaseMs;
  const finished = execute(deps, run, options.trigger).finally(() => lease.value.release({ notBeforeMs }).catch(() => undefined));
  return ok({ runId, connectionId, leaseExpiresAt: lease.value.expiresAt, finished });
}

/** The connection, when it can be reconciled now. */
async function runnableConnection(deps: ReconcileDeps, connectionId: string): Promise<Result<ConnectionRecord, ReconcileRefusal>> {
  const connection = await readConnection(deps, connectionId);
  if (connection === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  if (connection.status === 'reauthorization_required') {
    deps.logger.warn('reconcile skipped: the connection waits for a Global Administrator to consent again', { connectionId, code: connection.reauthorization?.code });
    return err({ code: 'reauthorization_required', message: `connection ${connectionId} waits for a Global Administrator to consent again; reconcile skipped` });
  }
  if (connection.status !== 'active' && connection.status !== 'sync_paused') {
    return err({ code: 'not_active', status: connection.status, message: `connection ${connectionId} is ${connection.status}; there is nothing to reconcile` });
  }
  return ok(connection);
}

/** A run asked for and handed to the queue; its request holds the connection's lease for it. */
export interface QueuedRun {
  readonly runId: string;
  readonly connectionId: string;
  readonly leaseExpiresAt: string;
}

/**
 * POST /connections/{id}/reconcile: refused at once when the connection cannot be reconciled or a
 * run holds its lease; otherwise the lease is taken for a new run and the run is queued, so it
 * runs in a queue invocation of its own (a Consumption plan may freeze an HTTP invocation once
 * it has answered). Requests arriving together still collapse into one run.
 */
export async function requestReconcile(deps: ReconcileDeps, connectionId: string, options: { readonly forceFull?: boolean } = {}): Promise<Result<QueuedRun, ReconcileRefusal>> {
  const connection = await runnableConnection(deps, connectionId);
  if (!connection.ok) return connection;
  const runId = randomUUID();
  const lease = await StoreLease.acquire(deps, reconcileLeaseName(connectionId), runId, leaseDurationMs);
  if (!lease.ok) return err(leaseHeld(connectionId, lease.error));
  const message: ReconcileMessage = { connectionId, runId, trigger: 'on_demand', forceFull: options.forceFull === true };
  try {
    await deps.sender.send(reconcileQueue, [{ messageId: `reconcile:${runId}`, body: message }]);
  } catch (error) {
    // Nothing will run: free the connection for the next request rather than for two minutes.
    await lease.value.release().catch(() => undefined);
    throw error;
  }
  return ok({ runId, connectionId, leaseExpiresAt: lease.value.expiresAt });
}

/**
 * Runs one queued run. A run that finished already (a redelivery) or whose lease another run took
 * meanwhile (its request's lease expired while the message waited) completes without running; a
 * connection that can no longer be reconciled frees the lease its request took.
 */
export async function handleReconcileMessage(deps: ReconcileDeps, body: unknown): Promise<MessageSettlement> {
  const parsed = parseMessage(reconcileMessageSchema, body, 'a reconcile');
  if (!parsed.ok) return parsed.error;
  const message = parsed.value;
  const last = await readReconcileRecord<RunReport>(deps.store, message.connectionId, lastRunId);
  if (last?.runId === message.runId) return { kind: 'complete', detail: `run ${message.runId} finished already (${last.outcome})` };
  const started = await startReconcile(deps, message.connectionId, { trigger: message.trigger, forceFull: message.forceFull, runId: message.runId });
  if (!started.ok) {
    if (started.error.code !== 'lease_held') await releaseIfHeldBy(deps, reconcileLeaseName(message.connectionId), message.runId);
    if (started.error.code === 'reauthorization_required' || started.error.code === 'lease_held') {
      deps.logger.info('queued reconcile run not started', { connectionId: message.connectionId, runId: message.runId, reason: started.error.code });
    }
    return { kind: 'complete', detail: `not run: ${started.error.message}` };
  }
  const report = await started.value.finished;
  return { kind: 'complete', detail: `run ${report.runId}: ${report.outcome}` };
}

async function execute(deps: ReconcileDeps, run: ReconcileRun, trigger: RunTrigger): Promise<RunReport> {
  const connectionId = run.connection.id;
  const log = deps.logger.child({ connectionId, runId: run.runId });
  const startedAt = deps.clock.now().toISOString();
  const parts: { users?: UsersReport; safetyNet?: SafetyNetReport; lifecycle?: LifecycleReport; groups?: GroupsReport } = {};
  let outcome: RunOutcome = 'completed';
  let error: RunReport['error'];
  try {
    const users = await reconcileUsers(deps, run);
    if (users.ok) {
      parts.users = users.value;
      deps.metrics?.driftFound(connectionId, { drifted: users.value.drifted, deleted: users.value.deleted + users.value.missing });
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
    if (outcome !== 'lease_lost' && outcome !== 'reauthorization_required') {
      const lifecycle = await runLifecycleSweep(deps, run);
      if (lifecycle === undefined) outcome = 'lease_lost';
      else parts.lifecycle = lifecycle;
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
  else log.info('reconcile run finished', { outcome, users: parts.users, safetyNet: parts.safetyNet, lifecycle: parts.lifecycle, groups: parts.groups, heldDeactivations });
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

/** What one timer invocation did across connections. */
export interface TimerReport {
  /** Connections a run was queued for. */
  readonly queued: string[];
  /** Connections not reconciled: waiting for re-consent. */
  readonly skipped: { readonly connectionId: string; readonly reason: ReconcileRefusal['code'] }[];
}

/** Runs queued per message sent: Service Bus takes up to 100 messages in one batch. */
const timerSendBatch = 100;

/**
 * The timer's use case: one queued run per active or paused connection, so connections are
 * reconciled side by side by the queue's workers (on as many instances as the queue scales to)
 * instead of inside one timer invocation. Connections waiting for re-consent are reported as
 * skipped. The message id names the connection and the minute, so a timer that fires twice
 * queues each run once; a run whose lease is held when it starts completes without running.
 */
export async function queueReconcileAll(deps: ReconcileDeps): Promise<TimerReport> {
  const queued: string[] = [];
  const skipped: TimerReport['skipped'] = [];
  const minute = deps.clock.now().toISOString().slice(0, 16);
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<ConnectionRecord>('connections', {
      where: [{ field: 'status', op: 'in', values: ['active', 'sync_paused', 'reauthorization_required'] }],
      limit: 500,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const runnable: ConnectionRecord[] = [];
    for (const { data: connection } of page.items) {
      if (connection.status === 'reauthorization_required') {
        deps.logger.warn('reconcile skipped: the connection waits for a Global Administrator to consent again', { connectionId: connection.id, code: connection.reauthorization?.code });
        skipped.push({ connectionId: connection.id, reason: 'reauthorization_required' });
      } else {
        runnable.push(connection);
      }
    }
    for (let i = 0; i < runnable.length; i += timerSendBatch) {
      const batch = runnable.slice(i, i + timerSendBatch);
      await deps.sender.send(
        reconcileQueue,
        batch.map((connection) => {
          const message: ReconcileMessage = { connectionId: connection.id, runId: randomUUID(), trigger: 'timer', forceFull: false };
          return { messageId: `reconcile:timer:${connection.id}:${minute}`, body: message };
        }),
      );
      queued.push(...batch.map((connection) => connection.id));
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  deps.logger.info('reconcile timer queued its runs', { queued: queued.length, skipped });
  return { queued, skipped };
}
