import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { importsFor } from '../../src/app/import-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { handleImportMessage } from '../../src/domain/import/import-worker';

/** The `imports` queue: one page of an import job per message (pages of a job run in parallel). */
export const importWorker: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'import-worker',
  queueName: 'imports',
  sessions: false,
  handler: async (message, context) => {
    const services = await getServices();
    const settlement = await handleImportMessage(importsFor(services).worker, message);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.debug(`import message settled: ${settlement.detail}`);
  },
};
