import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { groupSyncFor } from '../../src/app/group-sync-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { handleGroupSyncMessage } from '../../src/domain/group-sync/group-sync-worker';

/** The `group-sync` queue (sessions: one bound group per connection at a time): keeps a Microsoft 365 security group in step. */
export const groupSyncWorker: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'group-sync-worker',
  queueName: 'group-sync',
  sessions: true,
  handler: async (message, context) => {
    const services = await getServices();
    const settlement = await handleGroupSyncMessage(groupSyncFor(services), message);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.debug(`group-sync message settled: ${settlement.detail}`);
  },
};
