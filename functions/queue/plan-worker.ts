import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { importsFor } from '../../src/app/import-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { makeQueuedPlan } from '../../src/domain/plans/plan-jobs';

/** The `plans` queue: one plan made in the background per message. */
export const planWorker: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'plan-worker',
  queueName: 'plans',
  sessions: false,
  handler: async (message, context) => {
    const services = await getServices();
    const settlement = await makeQueuedPlan(importsFor(services).worker, message);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.debug(`plan message settled: ${settlement.detail}`);
  },
};
