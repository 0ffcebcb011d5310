import type { Clock } from '../../src/domain/ports/clock';
import type { MessageSender, OutgoingMessage } from '../../src/domain/ports/work-queue';
import { encodeDeadLetterCursor, type DeadLetter, type DeadLetterQueue } from '../../src/domain/ports/dead-letters';
import { InvalidCursorError } from '../../src/domain/ports/document-store';
import type { LockedMessage, QueueConsumer } from '../../src/app/host/queue-consumer';
import { MessageLockLostError } from '../../src/app/host/queue-consumer';
import { ManualClock } from '../support/manual-clock';

/** A queue adapter that both sends and consumes (the embedded queue). */
export interface WorkQueue extends MessageSender, QueueConsumer, DeadLetterQueue {}

export interface WorkQueueSettings {
  readonly clock: Clock;
  readonly maxDeliveries: number;
  readonly lockDurationMs: number;
  readonly duplicateWindowMs: number;
}

export interface OpenedWorkQueue {
  readonly queue: WorkQueue;
  /** Drops the current instance the way a crash would (no release, no settle) and opens a new one on the same durable state. */
  crashAndReopen(): Promise<WorkQueue>;
  close(): Promise<void>;
}

const settings = { maxDeliveries: 3, lockDurationMs: 30_000, duplicateWindowMs: 60_000 };
const start = new Date('2030-01-01T00:00:00.000Z');

function message(messageId: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return { messageId, body: { id: messageId, nested: { list: [1, 'two', null] } }, ...extra };
}

const ids = (messages: readonly LockedMessage[]): string[] => messages.map((m) => m.messageId).sort();

/**
 * The Service Bus semantics every consuming queue adapter promises: de-duplication, scheduling,
 * peek-lock with delivery counts and lock expiry, dead-lettering, sessions, release on shutdown and
 * durability across a crash. `open` gets a fresh, empty queue on the given clock and limits.
 */
export function describeWorkQueueContract(adapterName: string, open: (settings: WorkQueueSettings) => Promise<OpenedWorkQueue>): void {
  describe(`WorkQueue contract: ${adapterName}`, () => {
    let clock: ManualClock;
    let opened: OpenedWorkQueue;
    let queue: WorkQueue;

    beforeEach(async () => {
      clock = new ManualClock(start);
      opened = await open({ clock, ...settings });
      queue = opened.queue;
    });

    afterEach(async () => {
      await opened.close();
    });

    describe('peek-lock', () => {
      it('delivers a sent message once, locked, with its body, and forgets it on complete', async () => {
        await queue.send('imports', [message('m1')]);
        const [received, ...rest] = await queue.receive('imports', { maxMessages: 10, sessions: false });
        expect(rest).toEqual([]);
        expect(received).toMatchObject({ queue: 'imports', messageId: 'm1', deliveryCount: 1, body: { id: 'm1', nested: { list: [1, 'two', null] } } });
        expect(received!.sessionId).toBeUndefined();
        expect(received!.enqueuedAt).toEqual(start);
        expect(received!.lockedUntil).toEqual(new Date(start.getTime() + settings.lockDurationMs));
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);

        await queue.complete(received!);
        clock.advance(settings.lockDurationMs + 1);
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
      });

      it('keeps queues apart and honours maxMessages, oldest first', async () => {
        await queue.send('imports', [message('a'), message('b'), message('c')]);
        await queue.send('directory-commands', [message('other')]);
        const first = await queue.receive('imports', { maxMessages: 2, sessions: false });
        expect(first.map((m) => m.messageId)).toEqual(['a', 'b']);
        expect(ids(await queue.receive('imports', { maxMessages: 10, sessions: false }))).toEqual(['c']);
        expect(ids(await queue.receive('directory-commands', { maxMessages: 10, sessions: false }))).toEqual(['other']);
      });

      it('redelivers an abandoned message at once, counting the delivery', async () => {
        await queue.send('imports', [message('m1')]);
        const [first] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        expect(await queue.abandon(first!, 'transient')).toBe('abandoned');
        const [second] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        expect(second).toMatchObject({ messageId: 'm1', deliveryCount: 2, body: first!.body });
        expect(second!.lockToken).not.toBe(first!.lockToken);
      });

      it('dead-letters with MaxDeliveryCountExceeded and the last error when the last allowed delivery fails', async () => {
        await queue.send('imports', [message('m1')]);
        for (let delivery = 1; delivery < settings.maxDeliveries; delivery += 1) {
          const [received] = await queue.receive('imports', { maxMessages: 1, sessions: false });
          expect(received!.deliveryCount).toBe(delivery);
          expect(await queue.abandon(received!, `failure ${delivery}`)).toBe('abandoned');
        }
        const [last] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        expect(last!.deliveryCount).toBe(settings.maxDeliveries);
        expect(await queue.abandon(last!, 'Graph answered 503')).toBe('dead_lettered');

        expect(await queue.receive('imports', { maxMessages: 1, sessions: false })).toEqual([]);
        const [dead, ...more] = (await queue.deadLetters('imports', { limit: 10 })).items;
        expect(more).toEqual([]);
        expect(dead).toMatchObject({ messageId: 'm1', deliveryCount: settings.maxDeliveries, reason: 'MaxDeliveryCountExceeded: Graph answered 503', body: last!.body });
        expect(dead!.deadLetteredAt).toEqual(clock.now());
      });

      it('dead-letters on request with the given reason', async () => {
        await queue.send('imports', [message('m1'), message('m2')]);
        const [poison] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        await queue.deadLetter(poison!, 'body is not a valid command');
        expect(ids(await queue.receive('imports', { maxMessages: 10, sessions: false }))).toEqual(['m2']);
        expect((await queue.deadLetters('imports', { limit: 10 })).items).toEqual([
          expect.objectContaining({ messageId: 'm1', deliveryCount: 1, reason: 'body is not a valid command' }),
        ]);
        expect((await queue.deadLetters('directory-commands', { limit: 10 })).items).toEqual([]);
      });

      it('lists dead letters newest first, up to the limit', async () => {
        await queue.send('imports', [message('m1'), message('m2'), message('m3')]);
        for (const received of await queue.receive('imports', { maxMessages: 3, sessions: false })) {
          clock.advance(1_000);
          await queue.deadLetter(received, `bad ${received.messageId}`);
        }
        const listed = (await queue.deadLetters('imports', { limit: 2 })).items;
        expect(listed.map((m) => [m.messageId, m.reason])).toEqual([
          ['m3', 'bad m3'],
          ['m2', 'bad m2'],
        ]);
      });
    });

    describe('dead letters: paging', () => {
      /** Dead-letters `count` messages of `queue` at the same instant (no order from time alone). */
      async function deadLetterMany(queue: WorkQueue, name: 'imports' | 'directory-commands', count: number, prefix: string = name): Promise<void> {
        await queue.send(name, Array.from({ length: count }, (_, i) => message(`${prefix}-${i + 1}`)));
        for (const received of await queue.receive(name, { maxMessages: count, sessions: false })) await queue.deadLetter(received, 'bad');
      }

      async function allPages(limit: number): Promise<{ pages: (readonly DeadLetter[])[]; cursors: (string | undefined)[] }> {
        const pages: (readonly DeadLetter[])[] = [];
        const cursors: (string | undefined)[] = [];
        let cursor: string | undefined;
        do {
          const page = await queue.deadLetters('imports', { limit, ...(cursor === undefined ? {} : { cursor }) });
          pages.push(page.items);
          cursors.push(page.nextCursor);
          cursor = page.nextCursor;
        } while (cursor !== undefined && pages.length < 10);
        return { pages, cursors };
      }

      it('walks every dead letter of the queue a page at a time: no repeats, no gaps, no cursor on the last page', async () => {
        await deadLetterMany(queue, 'imports', 7);
        await deadLetterMany(queue, 'directory-commands', 2);
        const whole = await queue.deadLetters('imports', { limit: 10 });
        expect(whole.items).toHaveLength(7);
        expect(whole.nextCursor).toBeUndefined();

        const { pages, cursors } = await allPages(3);
        expect(pages.map((page) => page.length)).toEqual([3, 3, 1]);
        expect(cursors[0]).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(cursors[2]).toBeUndefined();
        expect(pages.flat().map((dead) => dead.id)).toEqual(whole.items.map((dead) => dead.id));
        // A last page that is exactly full has no cursor either.
        expect((await allPages(7)).cursors).toEqual([undefined]);
        expect((await allPages(6)).pages.map((page) => page.length)).toEqual([6, 1]);
      });

      it('keeps its place when dead letters come and go between pages', async () => {
        await deadLetterMany(queue, 'imports', 6);
        const whole = (await queue.deadLetters('imports', { limit: 10 })).items.map((dead) => dead.messageId);
        const first = await queue.deadLetters('imports', { limit: 3 });
        // One of the first page is removed and a newer one arrives: the next page still starts right after the first.
        expect(await queue.deleteDeadLetter('imports', first.items[0]!.id)).toBe(true);
        await deadLetterMany(queue, 'imports', 1, 'newer');
        const second = await queue.deadLetters('imports', { limit: 3, cursor: first.nextCursor! });
        expect(second.items.map((dead) => dead.messageId)).toEqual(whole.slice(3));
        expect(second.nextCursor).toBeUndefined();
      });

      it('refuses a cursor it did not issue', async () => {
        await deadLetterMany(queue, 'imports', 2);
        for (const cursor of ['not-a-cursor', encodeDeadLetterCursor('poison-records', '1'), encodeDeadLetterCursor('sqlite-queue', 'x'), encodeDeadLetterCursor('sqlite-queue', '-1'), Buffer.from('[1]').toString('base64url')]) {
          await expect(queue.deadLetters('imports', { limit: 1, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        }
        expect((await queue.deadLetters('imports', { limit: 10 })).items).toHaveLength(2);
      });
    });

    describe('dead letters: resubmit and delete', () => {
      it('resubmits a dead letter as a new first delivery under a new message id, and removes it', async () => {
        await queue.send('provisioning', [message('m1', { sessionId: 's1' })]);
        const [received] = await queue.receive('provisioning', { maxMessages: 1, sessions: true });
        await queue.deadLetter(received!, 'Graph kept answering 503');
        const [dead] = (await queue.deadLetters('provisioning', { limit: 10 })).items;
        expect(dead!.id).toMatch(/^[A-Za-z0-9_-]+$/);

        expect(await queue.resubmitDeadLetter('provisioning', dead!.id)).toBe(true);
        expect((await queue.deadLetters('provisioning', { limit: 10 })).items).toEqual([]);
        const [again] = await queue.receive('provisioning', { maxMessages: 1, sessions: true });
        expect(again).toMatchObject({ sessionId: 's1', deliveryCount: 1, body: received!.body });
        expect(again!.messageId).not.toBe('m1');
        expect(again!.messageId.startsWith('m1')).toBe(true);
        // Resubmitting twice does nothing the second time.
        expect(await queue.resubmitDeadLetter('provisioning', dead!.id)).toBe(false);
      });

      it('deletes a dead letter of its own queue only, and reports an unknown id', async () => {
        await queue.send('imports', [message('m1')]);
        const [received] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        await queue.deadLetter(received!, 'malformed');
        const [dead] = (await queue.deadLetters('imports', { limit: 10 })).items;
        expect(await queue.deleteDeadLetter('directory-commands', dead!.id)).toBe(false);
        expect(await queue.resubmitDeadLetter('directory-commands', dead!.id)).toBe(false);
        expect(await queue.deleteDeadLetter('imports', 'no-such-id')).toBe(false);
        expect(await queue.deleteDeadLetter('imports', dead!.id)).toBe(true);
        expect((await queue.deadLetters('imports', { limit: 10 })).items).toEqual([]);
        expect(await queue.receive('imports', { maxMessages: 1, sessions: false })).toEqual([]);
        expect(await queue.deleteDeadLetter('imports', dead!.id)).toBe(false);
      });
    });

    describe('lock expiry', () => {
      it('gives a message back after the lock duration with the lost delivery counted, and refuses the old holder', async () => {
        await queue.send('imports', [message('m1')]);
        const [first] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        clock.advance(settings.lockDurationMs - 1);
        expect(await queue.receive('imports', { maxMessages: 1, sessions: false })).toEqual([]);
        clock.advance(1);
        const [second] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        expect(second).toMatchObject({ messageId: 'm1', deliveryCount: 2 });

        await expect(queue.complete(first!)).rejects.toBeInstanceOf(MessageLockLostError);
        await expect(queue.complete(first!)).rejects.toMatchObject({ code: 'MESSAGE_LOCK_LOST' });
        await queue.complete(second!);
        clock.advance(settings.lockDurationMs);
        expect(await queue.receive('imports', { maxMessages: 1, sessions: false })).toEqual([]);
      });

      it('dead-letters a message whose lock expired on its last allowed delivery', async () => {
        await queue.send('imports', [message('m1')]);
        for (let delivery = 1; delivery <= settings.maxDeliveries; delivery += 1) {
          const [received] = await queue.receive('imports', { maxMessages: 1, sessions: false });
          expect(received!.deliveryCount).toBe(delivery);
          clock.advance(settings.lockDurationMs);
        }
        expect(await queue.receive('imports', { maxMessages: 1, sessions: false })).toEqual([]);
        const [dead] = (await queue.deadLetters('imports', { limit: 1 })).items;
        expect(dead!.messageId).toBe('m1');
        expect(dead!.reason).toMatch(/^MaxDeliveryCountExceeded: /);
      });

      it('keeps a renewed lock', async () => {
        if (queue.renewLock === undefined) return;
        await queue.send('imports', [message('m1')]);
        const [received] = await queue.receive('imports', { maxMessages: 1, sessions: false });
        clock.advance(settings.lockDurationMs / 2);
        const lockedUntil = await queue.renewLock(received!);
        expect(lockedUntil).toEqual(new Date(clock.now().getTime() + settings.lockDurationMs));
        clock.advance(settings.lockDurationMs - 1);
        expect(await queue.receive('imports', { maxMessages: 1, sessions: false })).toEqual([]);
        await queue.complete(received!);
      });
    });

    describe('de-duplication', () => {
      it('drops a message id already sent within the window, in the same or a later send, even after completion', async () => {
        await queue.send('imports', [message('m1', { body: 'first' }), message('m1', { body: 'same batch' })]);
        clock.advance(settings.duplicateWindowMs - 1);
        await queue.send('imports', [message('m1', { body: 'later' })]);
        const received = await queue.receive('imports', { maxMessages: 10, sessions: false });
        expect(received.map((m) => m.body)).toEqual(['first']);
        await queue.complete(received[0]!);
        await queue.send('imports', [message('m1', { body: 'after completion' })]);
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
      });

      it('accepts the id again once the window has passed, and per queue', async () => {
        await queue.send('imports', [message('m1', { body: 'first' })]);
        await queue.send('directory-commands', [message('m1', { body: 'other queue' })]);
        clock.advance(settings.duplicateWindowMs);
        await queue.send('imports', [message('m1', { body: 'second' })]);
        const received = await queue.receive('imports', { maxMessages: 10, sessions: false });
        expect(received.map((m) => m.body)).toEqual(['first', 'second']);
        expect((await queue.receive('directory-commands', { maxMessages: 10, sessions: false })).map((m) => m.body)).toEqual(['other queue']);
      });
    });

    describe('scheduled messages', () => {
      it('are invisible until their enqueue time', async () => {
        await queue.send('imports', [message('later', { scheduledEnqueueTime: new Date(start.getTime() + 5_000) }), message('now')]);
        expect(ids(await queue.receive('imports', { maxMessages: 10, sessions: false }))).toEqual(['now']);
        clock.advance(4_999);
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
        clock.advance(1);
        const [later, ...rest] = await queue.receive('imports', { maxMessages: 10, sessions: false });
        expect(rest).toEqual([]);
        expect(later).toMatchObject({ messageId: 'later', enqueuedAt: new Date(start.getTime() + 5_000) });
      });

      it('are invisible in a session queue until their time too', async () => {
        await queue.send('provisioning', [message('later', { sessionId: 'u1', scheduledEnqueueTime: new Date(start.getTime() + 5_000) })]);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
        clock.advance(5_000);
        expect(ids(await queue.receive('provisioning', { maxMessages: 10, sessions: true }))).toEqual(['later']);
      });
    });

    describe('sessions', () => {
      it('deliver one session strictly in order, one message at a time', async () => {
        await queue.send('provisioning', [message('u1-1', { sessionId: 'u1' }), message('u1-2', { sessionId: 'u1' })]);
        await queue.send('provisioning', [message('u1-3', { sessionId: 'u1' })]);
        const delivered: string[] = [];
        for (let i = 0; i < 3; i += 1) {
          const received = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
          expect(received).toHaveLength(1);
          expect(received[0]!.sessionId).toBe('u1');
          expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
          delivered.push(received[0]!.messageId);
          await queue.complete(received[0]!);
        }
        expect(delivered).toEqual(['u1-1', 'u1-2', 'u1-3']);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
      });

      it('hand out different sessions in parallel', async () => {
        await queue.send('provisioning', [
          message('u1-1', { sessionId: 'u1' }),
          message('u2-1', { sessionId: 'u2' }),
          message('u1-2', { sessionId: 'u1' }),
          message('u3-1', { sessionId: 'u3' }),
        ]);
        const first = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        expect(ids(first)).toEqual(['u1-1', 'u2-1', 'u3-1']);
        await queue.complete(first.find((m) => m.sessionId === 'u2')!);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
        await queue.complete(first.find((m) => m.sessionId === 'u1')!);
        expect(ids(await queue.receive('provisioning', { maxMessages: 10, sessions: true }))).toEqual(['u1-2']);
      });

      it('redeliver an abandoned message before the rest of its session', async () => {
        await queue.send('provisioning', [message('u1-1', { sessionId: 'u1' }), message('u1-2', { sessionId: 'u1' })]);
        const [first] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        await queue.abandon(first!, 'transient');
        const [again] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        expect(again).toMatchObject({ messageId: 'u1-1', deliveryCount: 2 });
      });

      it('move on to the next message once the head is dead-lettered', async () => {
        await queue.send('provisioning', [message('u1-1', { sessionId: 'u1' }), message('u1-2', { sessionId: 'u1' })]);
        for (let delivery = 1; delivery <= settings.maxDeliveries; delivery += 1) {
          const [received] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
          expect(received!.messageId).toBe('u1-1');
          await queue.abandon(received!, 'still failing');
        }
        const [next] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        expect(next).toMatchObject({ messageId: 'u1-2', deliveryCount: 1 });
        expect((await queue.deadLetters('provisioning', { limit: 10 })).items.map((m) => [m.messageId, m.sessionId, m.reason])).toEqual([
          ['u1-1', 'u1', 'MaxDeliveryCountExceeded: still failing'],
        ]);
      });

      it('lock the whole session until the lock expires, then hand the same head to the next receiver', async () => {
        await queue.send('provisioning', [message('u1-1', { sessionId: 'u1' }), message('u1-2', { sessionId: 'u1' })]);
        const [crashed] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        clock.advance(settings.lockDurationMs - 1);
        await queue.send('provisioning', [message('u1-3', { sessionId: 'u1' })]);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
        clock.advance(1);
        const [taken] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        expect(taken).toMatchObject({ messageId: 'u1-1', deliveryCount: 2 });
        await expect(queue.complete(crashed!)).rejects.toMatchObject({ code: 'MESSAGE_LOCK_LOST' });
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
        await queue.complete(taken!);
        expect(ids(await queue.receive('provisioning', { maxMessages: 10, sessions: true }))).toEqual(['u1-2']);
      });
    });

    describe('releaseAll', () => {
      it('unlocks everything held without counting the deliveries, and refuses to settle them afterwards', async () => {
        await queue.send('imports', [message('m1')]);
        await queue.send('provisioning', [message('u1-1', { sessionId: 'u1' }), message('u1-2', { sessionId: 'u1' })]);
        const [plain] = await queue.receive('imports', { maxMessages: 10, sessions: false });
        const [session] = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
        await queue.releaseAll();

        await expect(queue.complete(plain!)).rejects.toMatchObject({ code: 'MESSAGE_LOCK_LOST' });
        await expect(queue.abandon(session!, 'late')).rejects.toMatchObject({ code: 'MESSAGE_LOCK_LOST' });
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([expect.objectContaining({ messageId: 'm1', deliveryCount: 1 })]);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([expect.objectContaining({ messageId: 'u1-1', deliveryCount: 1 })]);
      });
    });

    describe('durability', () => {
      it('loses nothing in a crash: locked messages return after the lock expires, dead letters and seen ids stay', async () => {
        await queue.send('imports', [message('m1'), message('poison')]);
        await queue.send('provisioning', [message('u1-1', { sessionId: 'u1' }), message('u1-2', { sessionId: 'u1' })]);
        const plain = await queue.receive('imports', { maxMessages: 10, sessions: false });
        await queue.deadLetter(plain.find((m) => m.messageId === 'poison')!, 'malformed');
        await queue.receive('provisioning', { maxMessages: 10, sessions: true });

        queue = await opened.crashAndReopen();
        await queue.send('imports', [message('m1', { body: 'duplicate' })]);
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([]);
        clock.advance(settings.lockDurationMs);
        expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([
          expect.objectContaining({ messageId: 'm1', deliveryCount: 2, body: { id: 'm1', nested: { list: [1, 'two', null] } } }),
        ]);
        expect(await queue.receive('provisioning', { maxMessages: 10, sessions: true })).toEqual([expect.objectContaining({ messageId: 'u1-1', deliveryCount: 2 })]);
        expect((await queue.deadLetters('imports', { limit: 10 })).items.map((m) => m.reason)).toEqual(['malformed']);
      });
    });

    describe('wake-up', () => {
      it('tells listeners when messages were sent, not when every one was a duplicate', async () => {
        if (queue.onAvailable === undefined) return;
        const woken: string[] = [];
        const unsubscribe = queue.onAvailable((name) => woken.push(name));
        await queue.send('imports', [message('m1')]);
        await queue.send('imports', [message('m1')]);
        unsubscribe();
        await queue.send('imports', [message('m2')]);
        expect(woken).toEqual(['imports']);
      });
    });

    it('rejects what Service Bus would reject', async () => {
      await expect(queue.send('imports', [message('')])).rejects.toThrow(/messageId/);
      await expect(queue.send('imports', [message('x'.repeat(129))])).rejects.toThrow(/messageId/);
      await expect(queue.send('provisioning', [message('m1', { sessionId: '' })])).rejects.toThrow(/sessionId/);
      await expect(queue.send('imports', [message('m1', { body: undefined })])).rejects.toThrow(/JSON/);
    });
  });
}
