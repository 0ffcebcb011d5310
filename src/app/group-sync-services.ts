import { createGraphGroupGateways } from '../adapters/graph/graph-group-gateway';
import { createGroupSyncHooks } from '../domain/group-sync/group-sync-hooks';
import type { GroupSyncDeps } from '../domain/group-sync/sync-group';
import { provisioningFor, workerGraphClients } from './provisioning-services';
import type { Services } from './services';

const wired = new WeakMap<Services, GroupSyncDeps>();

/**
 * Group sync's wiring for a process's services: the Graph group gateways (no client retries, like
 * the provisioning worker's, so every 429 reaches the shared per-connection throttle) and the
 * directory hooks, registered on first call after provisioning's. `createServices` calls it.
 */
export function groupSyncFor(services: Services): GroupSyncDeps {
  const existing = wired.get(services);
  if (existing !== undefined) return existing;
  const provisioning = provisioningFor(services);
  const deps: GroupSyncDeps = {
    store: services.store,
    clock: services.clock,
    logger: services.logger.child({ component: 'group-sync' }),
    sender: services.sender,
    gateways: createGraphGroupGateways(workerGraphClients(services), services.config.graphBaseUrl),
    throttle: provisioning.throttle,
    maxAttempts: services.config.queueMaxDeliveries,
    metrics: services.metrics,
  };
  wired.set(services, deps);
  services.directoryHooks.register(createGroupSyncHooks(deps));
  return deps;
}
