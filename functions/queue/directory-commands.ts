import type { InvocationContext } from '@azure/functions';
import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { validate } from '../../src/app/http/validation';
import { getServices } from '../../src/app/services';
import { directoryCommandSchema, runDirectoryCommand } from '../../src/domain/directory/directory-commands';
import { ApiError, PoisonMessageError } from '../../src/domain/errors';
import type { DeliveredMessage } from '../../src/domain/ports/work-queue';

/** Error of a command whose target may appear later: thrown so the message is redelivered (and dead-lettered once out of deliveries). */
export class CommandRetryError extends Error {
  readonly code = 'COMMAND_RETRY' as const;

  constructor(reason: string) {
    super(reason);
    this.name = 'CommandRetryError';
  }
}

/**
 * Applies automation commands (README "Automation commands"). An invalid message is dead-lettered
 * at once with the validation error naming the field; a permanent failure (say the email belongs to
 * another user) likewise; a missing target is retried.
 */
export async function handleDirectoryCommand(message: DeliveredMessage, _context: InvocationContext): Promise<void> {
  let command;
  try {
    command = validate('message', directoryCommandSchema, message.body);
  } catch (error) {
    if (error instanceof ApiError) throw new PoisonMessageError(`invalid command: ${error.message}`, { cause: error });
    throw error;
  }
  const services = await getServices();
  const log = services.logger.child({ function: 'directory-commands', messageId: message.messageId, command: command.command });
  const outcome = await runDirectoryCommand(services, message.messageId, command);
  if (!outcome.ok) {
    if (outcome.error.retry) throw new CommandRetryError(outcome.error.reason);
    throw new PoisonMessageError(outcome.error.reason);
  }
  log.info(outcome.value === 'duplicate' ? 'command already applied' : 'command applied', { deliveryCount: message.deliveryCount });
}

export const directoryCommands: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'directory-commands',
  queueName: 'directory-commands',
  sessions: false,
  handler: handleDirectoryCommand,
};
