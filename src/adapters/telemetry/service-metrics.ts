import type { Counter, Meter } from '@opentelemetry/api';
import type { Metrics } from '../../domain/ports/metrics';
import type { ProvisioningEventType } from '../../domain/provisioning/provisioning-events';
import type { QueueName } from '../../domain/ports/work-queue';
import type { GraphRequestObserver } from './graph-telemetry-middleware';

/** A queue's backlog now: messages waiting (scheduled ones included) and the oldest one's enqueue time. */
export interface QueueBacklog {
  readonly queue: QueueName;
  readonly depth: number;
  readonly oldestEnqueuedAt: Date | undefined;
}

/** Which counter an event adds to, and as what change. */
const eventChanges: Record<ProvisioningEventType, readonly ['users' | 'groups', string]> = {
  user_create_provision: ['users', 'provisioned'],
  user_update_provision: ['users', 'updated'],
  user_password_update_provision: ['users', 'password_updated'],
  user_deprovision: ['users', 'deprovisioned'],
  user_delete_provision: ['users', 'deleted'],
  user_license_provision: ['users', 'licensed'],
  group_create_provision: ['groups', 'provisioned'],
  group_update_provision: ['groups', 'updated'],
  group_membership_provision: ['groups', 'membership_updated'],
};

/**
 * The service's instruments. Names follow OpenTelemetry's conventions; the Prometheus text shows
 * them with dots as underscores and counters with `_total`.
 */
export class ServiceMetrics implements Metrics, GraphRequestObserver {
  private readonly users: Counter;
  private readonly groups: Counter;
  private readonly failures: Counter;
  private readonly graphRequests: Counter;
  private readonly graphThrottled: Counter;
  private readonly reconcileRuns: Counter;
  private readonly drifted: Counter;
  private readonly deleted: Counter;
  /** Per connection: what its last reconcile run found. */
  private readonly lastRuns = new Map<string, { readonly drifted: number; readonly deleted: number }>();
  private readonly tokenFailures: Counter;

  constructor(meter: Meter, options: { readonly backlog?: () => Promise<readonly QueueBacklog[]>; readonly now: () => Date }) {
    this.users = meter.createCounter('m365bridge.users', { description: 'Changes made to Microsoft 365 accounts (provisioned, updated, deprovisioned...), one per effective change' });
    this.groups = meter.createCounter('m365bridge.groups', { description: 'Changes made to Microsoft 365 security groups, one per effective change' });
    this.failures = meter.createCounter('m365bridge.provisioning.failures', { description: 'Failed provisioning attempts, by error code' });
    this.graphRequests = meter.createCounter('m365bridge.graph.requests', { description: 'Requests sent to Microsoft Graph (each retry counts), per connection and status' });
    this.graphThrottled = meter.createCounter('m365bridge.graph.throttled', { description: 'Graph answers 429 (throttled), per connection' });
    // Drift per run: the last run's findings as gauges, and counters to rate over many runs.
    this.reconcileRuns = meter.createCounter('m365bridge.reconcile.runs', { description: 'Reconcile runs whose users round finished, per connection' });
    this.drifted = meter.createCounter('m365bridge.reconcile.drifted', { description: 'Bound accounts reconcile runs found drifted from the directory' });
    this.deleted = meter.createCounter('m365bridge.reconcile.deleted', { description: 'Bound accounts reconcile runs found deleted in Microsoft 365' });
    const lastDrifted = meter.createObservableGauge('m365bridge.reconcile.last_run.drifted', { description: "Bound accounts the connection's last reconcile run found drifted" });
    const lastDeleted = meter.createObservableGauge('m365bridge.reconcile.last_run.deleted', { description: "Bound accounts the connection's last reconcile run found deleted" });
    meter.addBatchObservableCallback((observer) => {
      for (const [connection, found] of this.lastRuns) {
        observer.observe(lastDrifted, found.drifted, { connection });
        observer.observe(lastDeleted, found.deleted, { connection });
      }
    }, [lastDrifted, lastDeleted]);
    this.tokenFailures = meter.createCounter('m365bridge.token.refresh_failures', { description: 'Failed refreshes of a connection\'s delegated tokens, by reason' });
    const backlog = options.backlog;
    if (backlog !== undefined) {
      const depth = meter.createObservableGauge('m365bridge.queue.depth', { description: 'Messages waiting in the queue (scheduled and locked ones included)', unit: '{message}' });
      const age = meter.createObservableGauge('m365bridge.queue.oldest_message_age', { description: "Age of the queue's oldest waiting message", unit: 's' });
      meter.addBatchObservableCallback(async (observer) => {
        const now = options.now().getTime();
        for (const queue of await backlog()) {
          observer.observe(depth, queue.depth, { queue: queue.queue });
          observer.observe(age, queue.oldestEnqueuedAt === undefined ? 0 : Math.max(0, (now - queue.oldestEnqueuedAt.getTime()) / 1000), { queue: queue.queue });
        }
      }, [depth, age]);
    }
  }

  provisioningEvent(type: ProvisioningEventType, connectionId: string): void {
    const [counter, change] = eventChanges[type];
    (counter === 'users' ? this.users : this.groups).add(1, { change, connection: connectionId });
  }

  provisioningFailed(code: string, connectionId: string): void {
    this.failures.add(1, { code, connection: connectionId });
  }

  driftFound(connectionId: string, found: { readonly drifted: number; readonly deleted: number }): void {
    this.reconcileRuns.add(1, { connection: connectionId });
    this.drifted.add(found.drifted, { connection: connectionId });
    this.deleted.add(found.deleted, { connection: connectionId });
    this.lastRuns.set(connectionId, found);
  }

  tokenRefreshFailed(connectionId: string, reason: string): void {
    this.tokenFailures.add(1, { connection: connectionId, reason });
  }

  graphRequest(connectionId: string | undefined, method: string, status: number | undefined, batched = false): void {
    const connection = connectionId ?? 'none';
    this.graphRequests.add(1, { connection, method, status: status === undefined ? 'none' : String(status), ...(batched ? { batched: 'true' } : {}) });
    if (status === 429) this.graphThrottled.add(1, { connection });
  }
}
