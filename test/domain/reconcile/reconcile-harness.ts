import type { UserRecord } from '../../../src/domain/directory/user-records';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import { bindUser } from '../../../src/domain/provisioning/bind-user';
import type { UserBindingRecord } from '../../../src/domain/provisioning/binding';
import type { ReconcileDeps } from '../../../src/domain/reconcile/reconcile-deps';
import { minimumLeaseMs, startReconcile, type RunReport } from '../../../src/domain/reconcile/reconcile-connection';
import { createStoreDeactivationGuard } from '../../../src/domain/reconcile/store-deactivation-guard';
import { ProvisioningHarness, silentLogger, testConnectionId } from '../provisioning/provisioning-harness';
import { FakeUsersDelta } from './fake-users-delta';

/** Counts the store's queries per container, to prove lookups go in batches. */
function countingQueries(store: DocumentStore, counts: Map<string, number>): DocumentStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'query') {
        return (container: string, spec: unknown) => {
          counts.set(container, (counts.get(container) ?? 0) + 1);
          return target.query(container as never, spec as never);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The provisioning harness (store, queue, worker, fake tenant) with the mass-deactivation guard
 * wired into the worker and a users/delta fake over the same fake tenant.
 */
export class ReconcileHarness extends ProvisioningHarness {
  readonly delta = new FakeUsersDelta(this.gateway.accounts);
  readonly queries = new Map<string, number>();
  readonly reconcile: ReconcileDeps;

  constructor(options: { maxAttempts?: number } = {}) {
    super(options);
    Object.assign(this.deps, { deactivationGuard: createStoreDeactivationGuard({ store: this.store, clock: this.clock, logger: silentLogger }) });
    this.reconcile = { store: countingQueries(this.store, this.queries), clock: this.clock, logger: silentLogger, sender: this.queue, usersDelta: this.delta };
  }

  /** A directory user bound to the test connection, provisioned by the worker. */
  async provisioned(fields: Partial<UserRecord> = {}): Promise<{ user: UserRecord; m365UserId: string }> {
    const user = await this.addUser(fields);
    const bound = await bindUser(this.deps, testConnectionId, user.id);
    if (!bound.ok) throw new Error(`binding failed: ${bound.error.message}`);
    await this.drain();
    const binding = await this.binding(user.id);
    if (binding?.state !== 'provisioned' || binding.m365UserId === undefined) throw new Error(`user ${user.id} was not provisioned`);
    return { user, m365UserId: binding.m365UserId };
  }

  async reconcileOnce(options: { forceFull?: boolean } = {}): Promise<RunReport> {
    const started = await startReconcile(this.reconcile, testConnectionId, { trigger: 'on_demand', ...options });
    if (!started.ok) throw new Error(`reconcile refused: ${started.error.message}`);
    const report = await started.value.finished;
    // Time passes: the run's lease outlives it by `minimumLeaseMs`.
    this.clock.advance(minimumLeaseMs);
    return report;
  }

  async bindingDoc(userId: string): Promise<UserBindingRecord> {
    const binding = await this.binding(userId);
    if (binding === undefined) throw new Error(`no binding of ${userId}`);
    return binding;
  }

  /** The user nudges sent since `from` (an index into the queue's sent list). */
  nudgesSince(from: number): { userId: string; changeSeq: number; reason: string }[] {
    return this.queue.sent.slice(from).map((m) => m.body as { userId: string; changeSeq: number; reason: string });
  }
}
