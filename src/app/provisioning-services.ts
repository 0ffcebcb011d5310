import path from 'node:path';
import { createGraphUserGateways } from '../adapters/graph/graph-user-gateway';
import { OutboxNoticeSender } from '../adapters/notice/outbox-notice-sender';
import { StoreNoticeOutbox } from '../adapters/notice/store-notice-outbox';
import type { NoticeSender } from '../domain/provisioning/binding-notice';
import { ConnectionThrottle } from '../domain/provisioning/connection-throttle';
import { createProvisioningHooks } from '../domain/provisioning/provisioning-hooks';
import { createStoreDeactivationGuard } from '../domain/reconcile/store-deactivation-guard';
import type { ProvisioningWorkerDeps } from '../domain/provisioning/provisioning-worker';
import type { Services } from './services';

const wired = new WeakMap<Services, ProvisioningWorkerDeps>();

function noticeSender(services: Services): NoticeSender {
  // In Azure there is no lasting local disk: notices wait in the store for the mail relay.
  if (services.config.cosmosEndpoint !== undefined) return new StoreNoticeOutbox(services.store, services.clock);
  const host = new URL(services.config.publicBaseUrl).hostname;
  return new OutboxNoticeSender(path.join(services.config.dataDir, 'outbox'), `no-reply@${host === 'localhost' ? 'localhost.localdomain' : host}`, services.clock);
}

/**
 * Provisioning's wiring for a process's services: the Graph user gateways, the per-connection
 * throttle every worker of the process shares, the notice sender, and the directory hooks, which
 * are registered on first call. `createServices` calls it, so directory changes are heard from
 * the first request on, whichever function runs first.
 */
export function provisioningFor(services: Services): ProvisioningWorkerDeps {
  const existing = wired.get(services);
  if (existing !== undefined) return existing;
  const deps: ProvisioningWorkerDeps = {
    store: services.store,
    clock: services.clock,
    logger: services.logger.child({ component: 'provisioning' }),
    sender: services.sender,
    secrets: services.secrets,
    notices: noticeSender(services),
    gateways: createGraphUserGateways((connectionId) => services.m365.graph.forConnection(connectionId), services.config.graphBaseUrl),
    throttle: new ConnectionThrottle(),
    maxAttempts: services.config.queueMaxDeliveries,
    deactivationGuard: createStoreDeactivationGuard({ store: services.store, clock: services.clock, logger: services.logger.child({ component: 'deactivation-guard' }) }),
  };
  wired.set(services, deps);
  services.directoryHooks.register(createProvisioningHooks(deps));
  return deps;
}
