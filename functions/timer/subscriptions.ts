import type { TimerFunctionDefinition } from '../../src/app/functions/definition';
import { subscriptionsFor } from '../../src/app/notification-services';
import { getServices } from '../../src/app/services';
import { queueSubscriptionPasses } from '../../src/domain/notifications/manage-subscriptions';

/**
 * Every minute: queues a pass for each connection whose change notification subscriptions are
 * missing, expire within 7 days (renewed well before Graph's 41,760-minute maximum), or should go.
 */
export const subscriptionsTimer: TimerFunctionDefinition = {
  kind: 'timer',
  name: 'subscriptions-timer',
  schedule: '0 * * * * *',
  handler: async (context) => {
    const services = await getServices();
    const queued = await queueSubscriptionPasses(subscriptionsFor(services));
    if (queued > 0) context.log(`queued subscription passes for ${queued} connection(s)`);
  },
};
