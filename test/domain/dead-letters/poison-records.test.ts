import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import { SqliteWorkQueue } from '../../../src/adapters/sqlite/sqlite-work-queue';
import { brokerAndPoisonDeadLetters, PoisonRecords } from '../../../src/domain/dead-letters/poison-records';
import type { DeadLetterQueue } from '../../../src/domain/ports/dead-letters';
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

    const listed = await both.deadLetters('directory-commands', { limit: 10 });
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
    expect(await both.deadLetters('directory-commands', { limit: 10 })).toEqual([]);
  });
});
