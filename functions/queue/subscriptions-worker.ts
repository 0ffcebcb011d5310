import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { subscriptionsFor } from '../../src/app/notification-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { handleSubscriptionMessage, subscriptionsQueue } from '../../src/domain/notifications/manage-subscriptions';

/** The `subscriptions` queue: brings one connection's change notification subscriptions in step. */
export const subscriptionsWorker: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'subscriptions-worker',
  queueName: subscriptionsQueue,
  sessions: false,
  handler: async (message, context) => {
    const services = await getServices();
    const settlement = await handleSubscriptionMessage(subscriptionsFor(services), message.body);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.log(`subscriptions message settled: ${settlement.detail}`);
  },
};
