import Long from 'long';
import type { PeekMessagesOptions, ServiceBusReceivedMessage } from '@azure/service-bus';
import { ServiceBusDeadLetters, type DeadLetterReceiver, type DeadLetterReceiverFactory } from '../../src/adapters/servicebus/servicebus-dead-letters';
import { encodeDeadLetterCursor, type DeadLetter } from '../../src/domain/ports/dead-letters';
import { InvalidCursorError } from '../../src/domain/ports/document-store';
import type { MessageSender, OutgoingMessage, QueueName } from '../../src/domain/ports/work-queue';
import { ManualClock } from '../support/manual-clock';

/**
 * A dead-letter sub-queue with the broker's peek-lock rules: a received message stays invisible until
 * completed (gone) or abandoned (back, delivery count up); receive never returns a locked one. Peek
 * starts at `fromSequenceNumber` (inclusive, a `Long` as the SDK insists) and, like the broker, may
 * answer fewer messages than asked (`peekCap`).
 */
class FakeDeadLetterSubQueue implements DeadLetterReceiverFactory {
  readonly messages: { message: ServiceBusReceivedMessage; locked: boolean }[] = [];
  readonly opened: string[] = [];
  readonly peeks: { max: number; from: string | undefined }[] = [];
  peekCap = Infinity;
  receivers = 0;

  add(sequenceNumber: number, fields: Partial<ServiceBusReceivedMessage>): void {
    this.messages.push({ locked: false, message: { sequenceNumber: Long.fromNumber(sequenceNumber), deliveryCount: 10, enqueuedTimeUtc: new Date('2030-01-01T00:00:00Z'), body: {}, ...fields } as ServiceBusReceivedMessage });
  }

  createReceiver(queue: QueueName, options: { subQueueType: 'deadLetter'; receiveMode: 'peekLock' }): DeadLetterReceiver {
    this.opened.push(`${queue}/${options.subQueueType}/${options.receiveMode}`);
    this.receivers += 1;
    const entry = (message: ServiceBusReceivedMessage) => this.messages.find((m) => m.message === message)!;
    const receiver = {
      peekMessages: async (max: number, options: PeekMessagesOptions = {}) => {
        const from = options.fromSequenceNumber;
        if (from !== undefined && !Long.isLong(from)) throw new TypeError('The parameter "fromSequenceNumber" should be of type "Long"');
        this.peeks.push({ max, from: from?.toString() });
        return this.messages
          .filter((m) => from === undefined || m.message.sequenceNumber!.greaterThanOrEqual(from))
          .slice(0, Math.min(max, this.peekCap))
          .map((m) => m.message);
      },
      receiveMessages: async (max: number) => {
        const free = this.messages.filter((m) => !m.locked).slice(0, max);
        for (const m of free) m.locked = true;
        return free.map((m) => m.message);
      },
      completeMessage: async (message: ServiceBusReceivedMessage) => {
        this.messages.splice(this.messages.indexOf(entry(message)), 1);
      },
      abandonMessage: async (message: ServiceBusReceivedMessage) => {
        entry(message).locked = false;
      },
      close: async () => {
        this.receivers -= 1;
      },
    };
    return receiver as unknown as DeadLetterReceiver;
  }
}

class RecordingSender implements MessageSender {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  async send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ queue, message });
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('ServiceBusDeadLetters', () => {
  let subQueue: FakeDeadLetterSubQueue;
  let sender: RecordingSender;
  let deadLetters: ServiceBusDeadLetters;
  const clock = new ManualClock(new Date('2030-01-02T00:00:00Z'));

  beforeEach(() => {
    subQueue = new FakeDeadLetterSubQueue();
    sender = new RecordingSender();
    deadLetters = new ServiceBusDeadLetters(subQueue, { sender, clock, scanLimit: 120 });
    for (let seq = 1; seq <= 100; seq += 1) subQueue.add(seq, { messageId: `m${seq}`, sessionId: `user-${seq}`, deadLetterReason: 'MaxDeliveryCountExceeded', deadLetterErrorDescription: `attempt ${seq}`, body: { userId: `user-${seq}` } });
  });

  it('lists by peeking the dead-letter sub-queue, with the reason, the sequence number as id and secrets redacted', async () => {
    subQueue.add(101, { messageId: 'leaky', body: { userId: 'u', password: 'Passw0rd-in-clear', note: 'Bearer abc.def.ghi' } });
    const { items: listed, nextCursor } = await deadLetters.deadLetters('provisioning', { limit: 200 });
    expect(nextCursor).toBeUndefined();
    expect(subQueue.opened[0]).toBe('provisioning/deadLetter/peekLock');
    expect(listed).toHaveLength(101);
    expect(listed[0]).toEqual({ id: '1', messageId: 'm1', sessionId: 'user-1', body: { userId: 'user-1' }, enqueuedAt: new Date('2030-01-01T00:00:00Z'), deliveryCount: 10, reason: 'MaxDeliveryCountExceeded: attempt 1' });
    expect(JSON.stringify(listed[100])).not.toMatch(/Passw0rd|abc\.def/);
    expect(listed[100]!.reason).toBe('unknown');
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
    expect(subQueue.receivers).toBe(0);
  });

  it('resubmits one deep in the sub-queue: sends it under a new id in its session, completes it, gives the others back', async () => {
    expect(await deadLetters.resubmitDeadLetter('provisioning', '77')).toBe(true);
    expect(sender.sent).toEqual([{ queue: 'provisioning', message: { messageId: expect.stringMatching(/^m77~r/), sessionId: 'user-77', body: { userId: 'user-77' } } }]);
    expect(subQueue.messages).toHaveLength(99);
    expect(subQueue.messages.some((m) => m.message.messageId === 'm77')).toBe(false);
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
    expect(subQueue.receivers).toBe(0);
  });

  it('deletes by completing without sending, and answers false for an id it cannot find within its scan', async () => {
    expect(await deadLetters.deleteDeadLetter('provisioning', '5')).toBe(true);
    expect(subQueue.messages).toHaveLength(99);
    expect(await deadLetters.deleteDeadLetter('provisioning', '5')).toBe(false);
    expect(await deadLetters.resubmitDeadLetter('provisioning', 'p-abc')).toBe(false);
    expect(sender.sent).toEqual([]);
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
  });

  it('keeps the dead letter when sending the copy fails', async () => {
    sender.send = async () => {
      throw new Error('namespace unreachable');
    };
    await expect(deadLetters.resubmitDeadLetter('provisioning', '3')).rejects.toThrow('namespace unreachable');
    expect(subQueue.messages).toHaveLength(100);
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
  });

  describe('paging', () => {
    async function allPages(limit: number): Promise<{ pages: DeadLetter[][]; cursors: (string | undefined)[] }> {
      const pages: DeadLetter[][] = [];
      const cursors: (string | undefined)[] = [];
      let cursor: string | undefined;
      do {
        const page = await deadLetters.deadLetters('provisioning', { limit, ...(cursor === undefined ? {} : { cursor }) });
        pages.push([...page.items]);
        cursors.push(page.nextCursor);
        cursor = page.nextCursor;
      } while (cursor !== undefined && pages.length < 20);
      return { pages, cursors };
    }

    it('walks the sub-queue from the sequence number after the last one listed: no repeats, no gaps, no cursor on the last page', async () => {
      const { pages, cursors } = await allPages(40);
      expect(pages.map((page) => page.length)).toEqual([40, 40, 20]);
      expect(pages.flat().map((dead) => dead.id)).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)));
      expect(cursors[0]).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(cursors[2]).toBeUndefined();
      // Each page peeks one past itself, the later ones from the last sequence number listed + 1.
      expect(subQueue.peeks).toEqual([
        { max: 41, from: undefined },
        { max: 41, from: '41' },
        { max: 41, from: '81' },
        { max: 21, from: '101' },
      ]);
      expect(subQueue.receivers).toBe(0);
      expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
      // Exactly full last page: no cursor.
      expect((await allPages(100)).cursors).toEqual([undefined]);
    });

    it('does not take a short peek for the end: it peeks again from where the broker stopped', async () => {
      subQueue.peekCap = 7;
      const { pages, cursors } = await allPages(30);
      expect(pages.map((page) => page.length)).toEqual([30, 30, 30, 10]);
      expect(pages.flat().map((dead) => dead.id)).toEqual(Array.from({ length: 100 }, (_, i) => String(i + 1)));
      expect(cursors[3]).toBeUndefined();
    });

    it('keeps its place when dead letters go between pages, and across gaps in the sequence numbers', async () => {
      const first = await deadLetters.deadLetters('provisioning', { limit: 10 });
      expect(await deadLetters.deleteDeadLetter('provisioning', '5')).toBe(true);
      expect(await deadLetters.deleteDeadLetter('provisioning', '11')).toBe(true);
      const second = await deadLetters.deadLetters('provisioning', { limit: 10, cursor: first.nextCursor! });
      expect(second.items.map((dead) => dead.id)).toEqual(['12', '13', '14', '15', '16', '17', '18', '19', '20', '21']);
    });

    it('refuses a cursor it did not issue without opening a receiver', async () => {
      const maxLong = '9223372036854775807';
      for (const cursor of [
        'not-a-cursor',
        encodeDeadLetterCursor('sqlite-queue', '5'),
        encodeDeadLetterCursor('servicebus-dead-letters', 'abc'),
        encodeDeadLetterCursor('servicebus-dead-letters', '-1'),
        encodeDeadLetterCursor('servicebus-dead-letters', '007'),
        encodeDeadLetterCursor('servicebus-dead-letters', '9223372036854775808'),
      ]) {
        await expect(deadLetters.deadLetters('provisioning', { limit: 5, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
      }
      expect(subQueue.opened).toEqual([]);
      // The largest sequence number is a cursor (past every message).
      expect(await deadLetters.deadLetters('provisioning', { limit: 5, cursor: encodeDeadLetterCursor('servicebus-dead-letters', maxLong) })).toEqual({ items: [] });
    });
  });
});
