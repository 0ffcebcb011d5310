import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { provisioningFor } from '../../src/app/provisioning-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { handleProvisioningMessage } from '../../src/domain/provisioning/provisioning-worker';

/** The `provisioning` queue (sessions: one user's nudges in order): brings one user's account in step. */
export const provisioningWorker: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'provisioning-worker',
  queueName: 'provisioning',
  sessions: true,
  handler: async (message, context) => {
    const services = await getServices();
    const settlement = await handleProvisioningMessage(provisioningFor(services), message);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.debug(`provisioning message settled: ${settlement.detail}`);
  },
};
