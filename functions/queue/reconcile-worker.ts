import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { reconcileFor } from '../../src/app/reconcile-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { handleReconcileMessage, reconcileQueue } from '../../src/domain/reconcile/reconcile-connection';

/** The `reconcile` queue: one run of one connection per message (from the timer or an admin's request). */
export const reconcileWorker: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'reconcile-worker',
  queueName: reconcileQueue,
  sessions: false,
  handler: async (message, context) => {
    const services = await getServices();
    const settlement = await handleReconcileMessage(reconcileFor(services), message.body);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.log(`reconcile message settled: ${settlement.detail}`);
  },
};
