import { GraphUserGateway } from '../adapters/graph/graph-user-gateway';
import { createGraphUsersDelta } from '../adapters/graph/graph-users-delta';
import { groupsReconciler } from '../domain/group-sync/reconcile-groups';
import type { ReconcileDeps } from '../domain/reconcile/reconcile-deps';
import { groupSyncFor } from './group-sync-services';
import type { Services } from './services';

const wired = new WeakMap<Services, ReconcileDeps>();

/** Reconciliation's wiring for a process's services: users/delta on the connection's Graph client. */
export function reconcileFor(services: Services): ReconcileDeps {
  const existing = wired.get(services);
  if (existing !== undefined) return existing;
  const deps: ReconcileDeps = {
    store: services.store,
    clock: services.clock,
    logger: services.logger.child({ component: 'reconcile' }),
    sender: services.sender,
    usersDelta: createGraphUsersDelta((connectionId) => services.m365.graph.forConnection(connectionId), services.config.graphBaseUrl),
    reconcileGroups: groupsReconciler(groupSyncFor(services)),
    subscribedSkus: (connectionId) => new GraphUserGateway(services.m365.graph.forConnection(connectionId), services.config.graphBaseUrl).subscribedSkus(),
    metrics: services.metrics,
  };
  wired.set(services, deps);
  return deps;
}
