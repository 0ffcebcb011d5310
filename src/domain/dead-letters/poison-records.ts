import type { Clock } from '../ports/clock';
import { decodeDeadLetterCursor, encodeDeadLetterCursor, resubmittedMessageId, type DeadLetterPage, type DeadLetterQueue } from '../ports/dead-letters';
import { InvalidCursorError, type DocumentStore } from '../ports/document-store';
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
/** Tags the cursors of the poison records (holding the store's cursor) and of the Azure listing. */
const poisonListing = 'poison-records';
const azureListing = 'azure-dead-letters';

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

  /** Newest first (ties by record id); pages with the store's own cursor. */
  async deadLetters(queue: QueueName, options: { limit: number; cursor?: string }): Promise<DeadLetterPage> {
    const cursor = options.cursor === undefined ? undefined : decodeDeadLetterCursor(poisonListing, options.cursor);
    const page = await this.deps.store.query<PoisonRecord>('state', {
      pk: partition(queue),
      orderBy: { field: 'deadLetteredAt', direction: 'desc' },
      limit: options.limit,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const items = page.items.map((item) => ({
      id: `${idPrefix}${Buffer.from(item.id, 'utf8').toString('base64url')}`,
      messageId: item.data.messageId,
      ...(item.data.sessionId === undefined ? {} : { sessionId: item.data.sessionId }),
      body: item.data.body,
      enqueuedAt: new Date(item.data.enqueuedAt ?? item.data.deadLetteredAt),
      deliveryCount: item.data.deliveryCount ?? 1,
      reason: item.data.reason,
      deadLetteredAt: new Date(item.data.deadLetteredAt),
    }));
    return page.nextCursor === undefined ? { items } : { items, nextCursor: encodeDeadLetterCursor(poisonListing, page.nextCursor) };
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
 * The dead letters of Azure: the poison records first, then the broker's sub-queue. Each id goes to
 * the side that issued it. A cursor says which side the next page starts on and holds that side's
 * cursor (none: the broker's from its start), so paging walks the records, then the broker's.
 */
export function brokerAndPoisonDeadLetters(broker: DeadLetterQueue, poison: PoisonRecords): DeadLetterQueue {
  const sideOf = (id: string): DeadLetterQueue => (PoisonRecords.documentId(id) === undefined ? broker : poison);
  const onPoison = (cursor: string): string => encodeDeadLetterCursor(azureListing, `p${cursor}`);
  const onBroker = (cursor: string | undefined): string => encodeDeadLetterCursor(azureListing, `b${cursor ?? ''}`);
  return {
    async deadLetters(queue, options) {
      const position = options.cursor === undefined ? 'p' : decodeDeadLetterCursor(azureListing, options.cursor);
      const side = position.slice(0, 1);
      const sideCursor = position.length > 1 ? position.slice(1) : undefined;
      if (side !== 'p' && side !== 'b') throw new InvalidCursorError();
      let fromStore: DeadLetterPage['items'] = [];
      if (side === 'p') {
        const page = await poison.deadLetters(queue, { limit: options.limit, ...(sideCursor === undefined ? {} : { cursor: sideCursor }) });
        if (page.nextCursor !== undefined) return { items: page.items, nextCursor: onPoison(page.nextCursor) };
        fromStore = page.items;
      }
      // The records are done: the rest of the page comes from the broker.
      const brokerCursor = side === 'b' ? sideCursor : undefined;
      const room = options.limit - fromStore.length;
      if (room === 0) {
        // A full page of the last records: a next page only if the broker has any.
        const peek = await broker.deadLetters(queue, { limit: 1 });
        return peek.items.length === 0 ? { items: fromStore } : { items: fromStore, nextCursor: onBroker(undefined) };
      }
      const page = await broker.deadLetters(queue, { limit: room, ...(brokerCursor === undefined ? {} : { cursor: brokerCursor }) });
      const items = [...fromStore, ...page.items];
      return page.nextCursor === undefined ? { items } : { items, nextCursor: onBroker(page.nextCursor) };
    },
    resubmitDeadLetter: (queue, id) => sideOf(id).resubmitDeadLetter(queue, id),
    deleteDeadLetter: (queue, id) => sideOf(id).deleteDeadLetter(queue, id),
  };
}
