import type { Clock } from '../ports/clock';
import { resubmittedMessageId, type DeadLetter, type DeadLetterQueue } from '../ports/dead-letters';
import type { DocumentStore } from '../ports/document-store';
import type { DeliveredMessage, MessageSender, QueueName } from '../ports/work-queue';

interface PoisonRecord {
  readonly queue: QueueName;
  readonly messageId: string;
  readonly sessionId?: string;
  readonly reason: string;
  readonly enqueuedAt?: string;
  readonly deliveryCount?: number;
  readonly deadLetteredAt: string;
  readonly body: unknown;
}

const partition = (queue: QueueName): string => `dead-letter:${queue}`;
const idPrefix = 'p-';

/**
 * Poison messages of the Functions host, kept in the store: the Node worker cannot dead-letter a
 * Service Bus message itself, so a message that can never succeed is completed and recorded here
 * with its reason (by message id, so a redelivery records it once). Ids start with `p-`, which no
 * broker sequence number does.
 */
export class PoisonRecords implements DeadLetterQueue {
  constructor(private readonly deps: { readonly store: DocumentStore; readonly sender: MessageSender; readonly clock: Clock }) {}

  /** Records a poison message; `body` must already be redacted. */
  async record(queue: QueueName, message: DeliveredMessage, reason: string, redactedBody: unknown): Promise<void> {
    const record: PoisonRecord = {
      queue,
      messageId: message.messageId,
      ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
      reason,
      enqueuedAt: message.enqueuedAt.toISOString(),
      deliveryCount: message.deliveryCount,
      deadLetteredAt: this.deps.clock.now().toISOString(),
      body: redactedBody,
    };
    await this.deps.store.upsert('state', partition(queue), message.messageId, record);
  }

  /** Newest first. */
  async deadLetters(queue: QueueName, options: { limit: number }): Promise<DeadLetter[]> {
    const page = await this.deps.store.query<PoisonRecord>('state', { pk: partition(queue), orderBy: { field: 'deadLetteredAt', direction: 'desc' }, limit: options.limit });
    return page.items.map((item) => ({
      id: `${idPrefix}${Buffer.from(item.id, 'utf8').toString('base64url')}`,
      messageId: item.data.messageId,
      ...(item.data.sessionId === undefined ? {} : { sessionId: item.data.sessionId }),
      body: item.data.body,
      enqueuedAt: new Date(item.data.enqueuedAt ?? item.data.deadLetteredAt),
      deliveryCount: item.data.deliveryCount ?? 1,
      reason: item.data.reason,
      deadLetteredAt: new Date(item.data.deadLetteredAt),
    }));
  }

  async resubmitDeadLetter(queue: QueueName, id: string): Promise<boolean> {
    const documentId = PoisonRecords.documentId(id);
    if (documentId === undefined) return false;
    const found = await this.deps.store.get<PoisonRecord>('state', partition(queue), documentId);
    if (found === undefined) return false;
    const { messageId, sessionId, body } = found.data;
    await this.deps.sender.send(queue, [{ messageId: resubmittedMessageId(messageId, this.deps.clock.now()), ...(sessionId === undefined ? {} : { sessionId }), body }]);
    await this.deps.store.delete('state', partition(queue), documentId);
    return true;
  }

  async deleteDeadLetter(queue: QueueName, id: string): Promise<boolean> {
    const documentId = PoisonRecords.documentId(id);
    if (documentId === undefined) return false;
    return (await this.deps.store.delete('state', partition(queue), documentId)).ok;
  }

  /** The store id behind a dead-letter id of this kind, or undefined for any other id. */
  static documentId(id: string): string | undefined {
    if (!id.startsWith(idPrefix)) return undefined;
    const decoded = Buffer.from(id.slice(idPrefix.length), 'base64url').toString('utf8');
    return decoded === '' ? undefined : decoded;
  }
}

/**
 * The dead letters of Azure: the broker's sub-queues and the poison records, side by side. Each id
 * goes to the side that issued it.
 */
export function brokerAndPoisonDeadLetters(broker: DeadLetterQueue, poison: PoisonRecords): DeadLetterQueue {
  const sideOf = (id: string): DeadLetterQueue => (PoisonRecords.documentId(id) === undefined ? broker : poison);
  return {
    async deadLetters(queue, options) {
      const [fromBroker, fromStore] = await Promise.all([broker.deadLetters(queue, options), poison.deadLetters(queue, options)]);
      return [...fromStore, ...fromBroker].slice(0, options.limit);
    },
    resubmitDeadLetter: (queue, id) => sideOf(id).resubmitDeadLetter(queue, id),
    deleteDeadLetter: (queue, id) => sideOf(id).deleteDeadLetter(queue, id),
  };
}
