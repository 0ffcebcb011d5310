import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import { SqliteWorkQueue } from '../../../src/adapters/sqlite/sqlite-work-queue';
import { brokerAndPoisonDeadLetters, PoisonRecords } from '../../../src/domain/dead-letters/poison-records';
import { encodeDeadLetterCursor, type DeadLetter, type DeadLetterQueue } from '../../../src/domain/ports/dead-letters';
import { InvalidCursorError } from '../../../src/domain/ports/document-store';
import type { QueueName } from '../../../src/domain/ports/work-queue';
import { ManualClock } from '../../support/manual-clock';

describe('poison records (dead letters the Functions host cannot dead-letter itself)', () => {
  const clock = new ManualClock(new Date('2030-01-01T00:00:00Z'));
  const db = openDatabase(':memory:');
  const store = new SqliteDocumentStore(db, { clock });
  // A real queue stands for the broker: the poison side sends through it, the broker side lists its own dead letters.
  const broker = new SqliteWorkQueue(db, { clock, maxDeliveries: 3 });
  const poison = new PoisonRecords({ store, sender: broker, clock });
  const both: DeadLetterQueue = brokerAndPoisonDeadLetters(broker, poison);
  afterAll(() => db.close());

  it('lists records newest first beside the broker’s dead letters, and sends each id to the side that issued it', async () => {
    await poison.record('directory-commands', { messageId: 'cmd/1', deliveryCount: 1, enqueuedAt: clock.now(), body: {} }, 'body.user.email is not an email', { command: 'user.upsert', user: { email: 'x', password: '[REDACTED]' } });
    clock.advance(1_000);
    await poison.record('directory-commands', { messageId: 'cmd/2', sessionId: 's', deliveryCount: 2, enqueuedAt: clock.now(), body: {} }, 'unknown command', { command: 'nope' });
    await broker.send('directory-commands', [{ messageId: 'broker-1', body: { command: 'x' } }]);
    const [received] = await broker.receive('directory-commands', { maxMessages: 1, sessions: false });
    await broker.deadLetter(received!, 'from the broker');

    const { items: listed, nextCursor } = await both.deadLetters('directory-commands', { limit: 10 });
    expect(nextCursor).toBeUndefined();
    expect(listed.map((d) => [d.messageId, d.reason])).toEqual([
      ['cmd/2', 'unknown command'],
      ['cmd/1', 'body.user.email is not an email'],
      ['broker-1', 'from the broker'],
    ]);
    const [second, first, fromBroker] = listed;
    expect(first!.id).toMatch(/^p-[A-Za-z0-9_-]+$/);
    expect(second).toMatchObject({ sessionId: 's', deliveryCount: 2, deadLetteredAt: clock.now() });

    // Resubmit goes back to the queue under a new id, keeping its session; the record is gone.
    expect(await both.resubmitDeadLetter('directory-commands', second!.id)).toBe(true);
    const [again] = await broker.receive('directory-commands', { maxMessages: 5, sessions: false });
    expect(again).toMatchObject({ sessionId: 's', body: { command: 'nope' }, deliveryCount: 1 });
    expect(again!.messageId).toMatch(/^cmd\/2~r/);

    expect(await both.deleteDeadLetter('directory-commands', first!.id)).toBe(true);
    expect(await both.deleteDeadLetter('directory-commands', first!.id)).toBe(false);
    expect(await both.deleteDeadLetter('directory-commands', fromBroker!.id)).toBe(true);
    expect(await both.deadLetters('directory-commands', { limit: 10 })).toEqual({ items: [] });
  });

  describe('paging', () => {
    // Each test has its own queue, so what the others leave behind does not count.
    async function records(queue: QueueName, count: number, prefix: string): Promise<void> {
      // Pairs share a dead-letter instant: the store breaks the tie by record id.
      for (let i = 1; i <= count; i += 1) {
        if (i % 2 === 1) clock.advance(1_000);
        await poison.record(queue, { messageId: `${prefix}-${i}`, deliveryCount: 1, enqueuedAt: clock.now(), body: {} }, 'bad', {});
      }
    }

    async function brokerDeadLetters(queue: 'imports' | 'reconcile' | 'plans' | 'notices', count: number, prefix: string): Promise<void> {
      await broker.send(queue, Array.from({ length: count }, (_, i) => ({ messageId: `${prefix}-${i + 1}`, body: {} })));
      for (const received of await broker.receive(queue, { maxMessages: count, sessions: false })) await broker.deadLetter(received, 'from the broker');
    }

    async function allPages(source: DeadLetterQueue, queue: QueueName, limit: number): Promise<{ pages: string[][]; cursors: (string | undefined)[] }> {
      const pages: string[][] = [];
      const cursors: (string | undefined)[] = [];
      let cursor: string | undefined;
      do {
        const page = await source.deadLetters(queue, { limit, ...(cursor === undefined ? {} : { cursor }) });
        pages.push(page.items.map((dead: DeadLetter) => dead.messageId));
        cursors.push(page.nextCursor);
        cursor = page.nextCursor;
      } while (cursor !== undefined && pages.length < 20);
      return { pages, cursors };
    }

    it('pages the records with the store’s cursor: newest first, no repeats, no gaps, no cursor on the last page', async () => {
      await records('imports', 7, 'rec');
      const whole = await poison.deadLetters('imports', { limit: 50 });
      expect(whole.nextCursor).toBeUndefined();
      expect(new Set(whole.items.map((dead) => dead.messageId)).size).toBe(7);
      const { pages, cursors } = await allPages(poison, 'imports', 2);
      expect(pages.map((page) => page.length)).toEqual([2, 2, 2, 1]);
      expect(pages.flat()).toEqual(whole.items.map((dead) => dead.messageId));
      expect(cursors[0]).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(cursors[3]).toBeUndefined();
      expect((await allPages(poison, 'imports', 7)).cursors).toEqual([undefined]);
    });

    it('walks the records, then the broker’s dead letters, across the boundary without repeats or gaps', async () => {
      await records('reconcile', 5, 'rec');
      await brokerDeadLetters('reconcile', 4, 'brk');
      const records5 = (await poison.deadLetters('reconcile', { limit: 50 })).items.map((dead) => dead.messageId);
      const broker4 = (await broker.deadLetters('reconcile', { limit: 50 })).items.map((dead) => dead.messageId);
      const expected = [...records5, ...broker4];
      expect(broker4).toHaveLength(4);

      // Each page size crosses the boundary differently: inside a page (2, 3, 4), at a page's end (5), or all in one page (9, 10).
      for (const limit of [1, 2, 3, 4, 5, 9, 10]) {
        const { pages, cursors } = await allPages(both, 'reconcile', limit);
        expect([limit, pages.flat()]).toEqual([limit, expected]);
        expect([limit, pages.slice(0, -1).every((page) => page.length === limit)]).toEqual([limit, true]);
        expect([limit, cursors.slice(0, -1).every((cursor) => cursor !== undefined), cursors[cursors.length - 1]]).toEqual([limit, true, undefined]);
      }
      expect((await allPages(both, 'reconcile', 3)).pages).toEqual([expected.slice(0, 3), expected.slice(3, 6), expected.slice(6, 9)]);
    });

    it('ends on the last record when the broker has none, and walks the broker alone when there are no records', async () => {
      await records('plans', 4, 'rec');
      expect((await allPages(both, 'plans', 2)).cursors).toEqual([expect.any(String), undefined]);
      expect((await allPages(both, 'plans', 4)).cursors).toEqual([undefined]);
      await brokerDeadLetters('notices', 3, 'brk');
      expect(await allPages(both, 'notices', 2)).toEqual({ pages: [['brk-3', 'brk-2'], ['brk-1']], cursors: [expect.any(String), undefined] });
    });

    it('refuses a cursor it did not issue, on either side, and changes nothing', async () => {
      await records('notices', 3, 'kept');
      const before = await both.deadLetters('notices', { limit: 50 });
      // Real cursors of one side, handed to the other.
      const brokerCursor = (await broker.deadLetters('notices', { limit: 1 })).nextCursor!;
      const poisonCursor = (await poison.deadLetters('notices', { limit: 1 })).nextCursor!;
      const bad = [
        brokerCursor,
        poisonCursor,
        encodeDeadLetterCursor('azure-dead-letters', `p${brokerCursor}`),
        encodeDeadLetterCursor('azure-dead-letters', `b${poisonCursor}`),
        'not-a-cursor',
        encodeDeadLetterCursor('sqlite-queue', '5'),
        encodeDeadLetterCursor('azure-dead-letters', 'x'),
        encodeDeadLetterCursor('azure-dead-letters', 'pnot-a-cursor'),
        encodeDeadLetterCursor('azure-dead-letters', 'bnot-a-cursor'),
        encodeDeadLetterCursor('azure-dead-letters', `p${encodeDeadLetterCursor('poison-records', 'garbage')}`),
      ];
      for (const cursor of bad) await expect(both.deadLetters('notices', { limit: 5, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
      for (const cursor of ['not-a-cursor', encodeDeadLetterCursor('poison-records', 'garbage'), brokerCursor]) {
        await expect(poison.deadLetters('notices', { limit: 5, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
      }
      expect(await both.deadLetters('notices', { limit: 50 })).toEqual(before);
      expect(before.items).toHaveLength(6);
    });
  });
});
