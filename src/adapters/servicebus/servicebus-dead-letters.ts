import { createRequire } from 'node:module';
import type { TokenCredential } from '@azure/identity';
import type { PeekMessagesOptions, ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { ServiceBusClient } from '@azure/service-bus';
import { decodeDeadLetterCursor, encodeDeadLetterCursor, resubmittedMessageId, type DeadLetter, type DeadLetterPage, type DeadLetterQueue } from '../../domain/ports/dead-letters';
import { InvalidCursorError } from '../../domain/ports/document-store';
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

/** A broker sequence number: the SDK's 64-bit `Long`. */
type SequenceNumber = NonNullable<PeekMessagesOptions['fromSequenceNumber']>;
/** The `Long` class the SDK itself takes (its own dependency, resolved from it rather than named here). */
const Long = createRequire(require.resolve('@azure/service-bus'))('long') as { fromString(value: string): SequenceNumber; MAX_VALUE: SequenceNumber };
/** Tags this adapter's cursors, which hold the sequence number the next page starts at. */
const deadLetterListing = 'servicebus-dead-letters';

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

  /**
   * Oldest first, as the broker peeks. A page peeks from the sequence number its cursor holds (the
   * last one listed + 1), one message past the page to know whether there is a next; a short peek
   * is followed by another from where it stopped, as the broker may answer fewer than asked.
   */
  async deadLetters(queue: QueueName, options: { limit: number; cursor?: string }): Promise<DeadLetterPage> {
    let from = options.cursor === undefined ? undefined : sequenceNumberOf(decodeDeadLetterCursor(deadLetterListing, options.cursor));
    return this.withReceiver(queue, async (receiver) => {
      const peeked: ServiceBusReceivedMessage[] = [];
      while (peeked.length <= options.limit) {
        const batch = await receiver.peekMessages(options.limit + 1 - peeked.length, from === undefined ? {} : { fromSequenceNumber: from });
        const last = batch[batch.length - 1]?.sequenceNumber;
        peeked.push(...batch);
        if (last === undefined) break;
        from = last.add(1);
      }
      const page = peeked.slice(0, options.limit);
      const end = page[page.length - 1]?.sequenceNumber;
      const items = page.map(toDeadLetter);
      return peeked.length > options.limit && end !== undefined ? { items, nextCursor: encodeDeadLetterCursor(deadLetterListing, end.add(1).toString()) } : { items };
    });
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

/** The sequence number a cursor holds: decimal digits of a non-negative 64-bit integer. */
function sequenceNumberOf(position: string): SequenceNumber {
  if (!/^(0|[1-9][0-9]{0,18})$/.test(position)) throw new InvalidCursorError();
  const value = Long.fromString(position);
  // fromString wraps past the largest value instead of failing.
  if (value.isNegative() || value.toString() !== position) throw new InvalidCursorError();
  return value;
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
