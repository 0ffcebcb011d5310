import type { DeliveredMessage, MessageSender } from '../ports/work-queue';
import { expandGroup, type GroupExpansionOutcome } from './bind-group';
import type { BindingDeps } from './bind-user';
import { mutateUserBinding } from './binding-records';
import { provisioningMessageSchema, toOutgoing, type ProvisioningMessage } from './nudges';
import { provisionUser, type ProvisionOutcome, type ProvisionUserDeps } from './provision-user';
import { parseMessage, type MessageSettlement } from '../queue-messages';

export interface ProvisioningWorkerDeps extends ProvisionUserDeps, BindingDeps {
  readonly sender: MessageSender;
}

/**
 * Handles one message of the `provisioning` queue. Waiting and retrying never sleep: the nudge is
 * sent again with a scheduled enqueue time (one more hop, so its id is new) and this one completes.
 * A surprise is thrown for the queue to redeliver; on the last allowed delivery the binding is put
 * in `error` first, so what the dead-letter queue holds shows on the binding too.
 */
export async function handleProvisioningMessage(deps: ProvisioningWorkerDeps, delivered: DeliveredMessage): Promise<MessageSettlement> {
  const parsed = parseMessage(provisioningMessageSchema, delivered.body, 'a provisioning');
  if (!parsed.ok) return parsed.error;
  const message = parsed.value;
  let outcome: ProvisionOutcome | GroupExpansionOutcome;
  try {
    outcome = message.kind === 'user' ? await provisionUser(deps, message) : await expandGroup(deps, message);
  } catch (error) {
    if (message.kind === 'user' && delivered.deliveryCount >= deps.maxAttempts) await markFailed(deps, message, error);
    throw error;
  }
  switch (outcome.kind) {
    case 'done':
      return { kind: 'complete', detail: outcome.detail };
    case 'wait':
    case 'retry':
      await reschedule(deps, message, outcome.untilMs);
      return { kind: 'complete', detail: outcome.kind === 'wait' ? outcome.detail : `retry: ${outcome.error.code}` };
    case 'gave_up':
      return { kind: 'dead_letter', reason: `provisioning failed ${deps.maxAttempts} times; last error ${outcome.error.code}: ${outcome.error.message}` };
  }
}

async function reschedule(deps: ProvisioningWorkerDeps, message: ProvisioningMessage, untilMs: number): Promise<void> {
  await deps.sender.send('provisioning', [toOutgoing({ ...message, hop: message.hop + 1 }, new Date(untilMs))]);
}

async function markFailed(deps: ProvisioningWorkerDeps, message: Extract<ProvisioningMessage, { kind: 'user' }>, error: unknown): Promise<void> {
  const at = deps.clock.now().toISOString();
  const lastError = { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), at };
  try {
    await mutateUserBinding(deps.store, message.connectionId, message.userId, (current) =>
      current === undefined ? undefined : { ...current, state: 'error', lastError, attempts: current.attempts + 1, handledChangeSeq: Math.max(current.handledChangeSeq, message.changeSeq), updatedAt: at },
    );
  } catch (markError) {
    deps.logger.error('could not record the failure on the binding', { connectionId: message.connectionId, userId: message.userId, error: markError instanceof Error ? markError.message : String(markError) });
  }
}
