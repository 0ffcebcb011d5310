import type { Attributes, Counter, Meter } from '@opentelemetry/api';
import type { Metrics } from '../../domain/ports/metrics';
import type { QueueName } from '../../domain/ports/work-queue';

/** A queue's backlog now: messages waiting (scheduled ones included) and the oldest one's enqueue time. */
export interface QueueBacklog {
  readonly queue: QueueName;
  readonly depth: number;
  readonly oldestEnqueuedAt: Date | undefined;
}

/**
 * The service's instruments. Names follow OpenTelemetry's conventions; the Prometheus text shows
 * them with dots as underscores and counters with `_total`.
 */
export class ServiceMetrics implements Metrics {
  private readonly users: Counter;
  private readonly failures: Counter;
  private readonly graphRequests: Counter;
  private readonly graphThrottled: Counter;
  private readonly httpRequests: Counter;

  constructor(meter: Meter, options: { readonly backlog?: () => Promise<readonly QueueBacklog[]>; readonly now: () => Date }) {
    this.users = meter.createCounter('m365bridge.users', { description: 'Users provisioned, updated and deprovisioned (one per effective change)' });
    this.failures = meter.createCounter('m365bridge.provisioning.failures', { description: 'Failed provisioning attempts, by error code' });
    this.graphRequests = meter.createCounter('m365bridge.graph.requests', { description: 'Requests sent to Microsoft Graph, per connection and status' });
    this.graphThrottled = meter.createCounter('m365bridge.graph.throttled', { description: 'Graph answers 429 (throttled), per connection' });
    this.httpRequests = meter.createCounter('m365bridge.http.requests', { description: 'Admin API requests, per function and status' });
    const backlog = options.backlog;
    if (backlog !== undefined) {
      const depth = meter.createObservableGauge('m365bridge.queue.depth', { description: 'Messages waiting in the queue' });
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

  userProvisioned(kind: 'provisioned' | 'updated' | 'deprovisioned', connectionId: string): void {
    this.users.add(1, { kind, connection: connectionId });
  }

  provisioningFailed(code: string, connectionId: string): void {
    this.failures.add(1, { code, connection: connectionId });
  }

  graphRequest(connectionId: string | undefined, method: string, status: number | undefined): void {
    const attributes: Attributes = { connection: connectionId ?? 'none', method, status: status === undefined ? 'none' : String(status) };
    this.graphRequests.add(1, attributes);
    if (status === 429) this.graphThrottled.add(1, { connection: connectionId ?? 'none' });
  }

  httpRequest(functionName: string, status: number): void {
    this.httpRequests.add(1, { function: functionName, status: String(status) });
  }
}

