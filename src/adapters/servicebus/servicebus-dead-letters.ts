import type { TokenCredential } from '@azure/identity';
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { ServiceBusClient } from '@azure/service-bus';
import { resubmittedMessageId, type DeadLetter, type DeadLetterQueue } from '../../domain/ports/dead-letters';
import type { Clock } from '../../domain/ports/clock';
import type { MessageSender, QueueName } from '../../domain/ports/work-queue';
import { redact } from '../logging/redact';

/** The part of a Service Bus receiver this adapter uses (tests hand in a small fake). */
export type DeadLetterReceiver = Pick<ServiceBusReceiver, 'peekMessages' | 'receiveMessages' | 'completeMessage' | 'abandonMessage' | 'close'>;

/** Opens a peek-lock receiver on a queue's dead-letter sub-queue; `ServiceBusClient` is one. */
export interface DeadLetterReceiverFactory {
  createReceiver(queue: QueueName, options: { subQueueType: 'deadLetter'; receiveMode: 'peekLock' }): DeadLetterReceiver;
}

export interface ServiceBusDeadLettersOptions {
  readonly sender: MessageSender;
  readonly clock: Clock;
  /** How many dead letters one resubmit or delete looks through for the id before giving up. Default 1,000. */
  readonly scanLimit?: number;
}

const receiveBatch = 50;
const receiveWaitMs = 1_000;

/**
 * The Service Bus dead-letter sub-queues (`<queue>/$deadletterqueue`). Listing peeks, so it moves
 * nothing. Service Bus cannot receive a message by sequence number, so resubmit and delete receive
 * under peek-lock until they meet the id, settle that one and abandon the others they held. The id is
 * the broker's sequence number.
 */
export class ServiceBusDeadLetters implements DeadLetterQueue {
  private readonly scanLimit: number;

  constructor(
    private readonly factory: DeadLetterReceiverFactory,
    private readonly options: ServiceBusDeadLettersOptions,
  ) {
    this.scanLimit = options.scanLimit ?? 1_000;
  }

  /** Oldest first, as the broker peeks. */
  async deadLetters(queue: QueueName, options: { limit: number }): Promise<DeadLetter[]> {
    return this.withReceiver(queue, async (receiver) => (await receiver.peekMessages(options.limit)).map(toDeadLetter));
  }

  async resubmitDeadLetter(queue: QueueName, id: string): Promise<boolean> {
    return this.settle(queue, id, async (message) => {
      const dead = toDeadLetter(message);
      await this.options.sender.send(queue, [
        {
          messageId: resubmittedMessageId(dead.messageId, this.options.clock.now()),
          ...(dead.sessionId === undefined ? {} : { sessionId: dead.sessionId }),
          body: message.body,
        },
      ]);
    });
  }

  async deleteDeadLetter(queue: QueueName, id: string): Promise<boolean> {
    return this.settle(queue, id, async () => undefined);
  }

  private async settle(queue: QueueName, id: string, before: (message: ServiceBusReceivedMessage) => Promise<void>): Promise<boolean> {
    if (!/^[0-9]{1,20}$/.test(id)) return false;
    return this.withReceiver(queue, async (receiver) => {
      const held: ServiceBusReceivedMessage[] = [];
      try {
        while (held.length < this.scanLimit) {
          const batch = await receiver.receiveMessages(Math.min(receiveBatch, this.scanLimit - held.length), { maxWaitTimeInMs: receiveWaitMs });
          if (batch.length === 0) return false;
          const match = batch.find((message) => message.sequenceNumber?.toString() === id);
          held.push(...batch.filter((message) => message !== match));
          if (match !== undefined) {
            try {
              await before(match);
            } catch (error) {
              held.push(match);
              throw error;
            }
            await receiver.completeMessage(match);
            return true;
          }
        }
        return false;
      } finally {
        await Promise.allSettled(held.map((message) => receiver.abandonMessage(message)));
      }
    });
  }

  private async withReceiver<T>(queue: QueueName, use: (receiver: DeadLetterReceiver) => Promise<T>): Promise<T> {
    const receiver = this.factory.createReceiver(queue, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
    try {
      return await use(receiver);
    } finally {
      await receiver.close();
    }
  }
}

function toDeadLetter(message: ServiceBusReceivedMessage): DeadLetter {
  const reason = [message.deadLetterReason, message.deadLetterErrorDescription].filter((part) => part !== undefined && part !== '').join(': ');
  return {
    id: message.sequenceNumber?.toString() ?? '',
    messageId: String(message.messageId ?? ''),
    ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
    body: redact(message.body),
    enqueuedAt: message.enqueuedTimeUtc ?? new Date(0),
    deliveryCount: message.deliveryCount ?? 0,
    reason: reason === '' ? 'unknown' : reason,
  };
}

/** The production adapter: a Service Bus client on `namespace`, authenticated by `credential` (the managed identity). */
export function createServiceBusDeadLetters(namespace: string, credential: TokenCredential, options: ServiceBusDeadLettersOptions): { deadLetters: ServiceBusDeadLetters; close(): Promise<void> } {
  const client = new ServiceBusClient(namespace, credential);
  return { deadLetters: new ServiceBusDeadLetters(client, options), close: () => client.close() };
}
