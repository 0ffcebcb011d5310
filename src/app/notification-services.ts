import { createGraphSubscriptionGateway } from '../adapters/graph/graph-subscription-gateway';
import type { SubscriptionDeps } from '../domain/notifications/manage-subscriptions';
import { NotificationReceiver } from '../domain/notifications/receive-notifications';
import { requestReconcile } from '../domain/reconcile/reconcile-connection';
import { reconcileFor } from './reconcile-services';
import type { Services } from './services';

const subscriptionsWired = new WeakMap<Services, SubscriptionDeps>();
const receivers = new WeakMap<Services, NotificationReceiver>();

/** Where Graph delivers change notifications and lifecycle events: this app's `notifications` function. */
export function notificationUrlOf(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/api/notifications`;
}

/** Subscriptions' wiring: Graph `/subscriptions` on the connection's client (with its retries), the secret store for clientStates. */
export function subscriptionsFor(services: Services): SubscriptionDeps {
  const existing = subscriptionsWired.get(services);
  if (existing !== undefined) return existing;
  const deps: SubscriptionDeps = {
    store: services.store,
    clock: services.clock,
    logger: services.logger.child({ component: 'subscriptions' }),
    sender: services.sender,
    secrets: services.secrets,
    gateway: createGraphSubscriptionGateway(services.m365.graph),
    notificationUrl: notificationUrlOf(services.config.publicBaseUrl),
    // Microsoft delivers only over HTTPS; the sandbox also to the local host.
    deliverable: services.config.m365Mode === 'sandbox' || services.config.publicBaseUrl.startsWith('https://'),
  };
  subscriptionsWired.set(services, deps);
  return deps;
}

/** The process's notification receiver (its caches live as long as the process). */
export function notificationReceiverFor(services: Services): NotificationReceiver {
  const existing = receivers.get(services);
  if (existing !== undefined) return existing;
  const deps = subscriptionsFor(services);
  const reconcile = reconcileFor(services);
  const receiver = new NotificationReceiver({
    ...deps,
    logger: services.logger.child({ component: 'notifications' }),
    requestDeltaRun: async (connectionId) => {
      const queued = await requestReconcile(reconcile, connectionId);
      // A run already holding the lease reads the same changes; anything else is for the timer.
      if (!queued.ok && queued.error.code !== 'lease_held') deps.logger.warn('delta run not started after a lifecycle event', { connectionId, reason: queued.error.code });
    },
  });
  receivers.set(services, receiver);
  return receiver;
}
