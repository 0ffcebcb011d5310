import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteWorkQueue } from '../../src/adapters/sqlite/sqlite-work-queue';
import { ManualClock } from '../support/manual-clock';
import { describeWorkQueueContract } from '../contract/work-queue.contract';

describeWorkQueueContract('SQLite', async (settings) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'work-queue-'));
  const file = path.join(dir, 'queue.db');
  let db: Database = openDatabase(file);
  return {
    queue: new SqliteWorkQueue(db, settings),
    async crashAndReopen() {
      db.close();
      db = openDatabase(file);
      return new SqliteWorkQueue(db, settings);
    },
    async close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('SqliteWorkQueue', () => {
  it('keeps a message\'s trace context beside its body and hands it to the receiver, on a session queue too', async () => {
    const queue = new SqliteWorkQueue(openDatabase(':memory:'), { maxDeliveries: 3 });
    const traceContext = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'vendor=1' };
    await queue.send('provisioning', [{ messageId: 'traced', sessionId: 'user-1', body: { userId: 'user-1' }, traceContext }]);
    await queue.send('provisioning', [{ messageId: 'untraced', sessionId: 'user-2', body: { userId: 'user-2' } }]);
    const received = await queue.receive('provisioning', { maxMessages: 5, sessions: true });
    expect(received.map((m) => [m.messageId, m.traceContext, m.body])).toEqual([
      ['traced', traceContext, { userId: 'user-1' }],
      ['untraced', undefined, { userId: 'user-2' }],
    ]);
  });

  it('adds the trace context column to a database from before it existed, keeping its messages', async () => {
    const db = openDatabase(':memory:');
    db.exec(`CREATE TABLE queue_messages (seq INTEGER PRIMARY KEY, queue TEXT NOT NULL, message_id TEXT NOT NULL, session_id TEXT, body TEXT NOT NULL,
      enqueued_at INTEGER NOT NULL, available_at INTEGER NOT NULL, delivery_count INTEGER NOT NULL DEFAULT 0, lock_token TEXT, last_error TEXT)`);
    db.prepare("INSERT INTO queue_messages (queue, message_id, body, enqueued_at, available_at) VALUES ('imports', 'old', '{\"n\":1}', 0, 0)").run();
    const queue = new SqliteWorkQueue(db, { maxDeliveries: 3 });
    const [old] = await queue.receive('imports', { maxMessages: 1, sessions: false });
    expect(old).toMatchObject({ messageId: 'old', body: { n: 1 } });
    expect(old?.traceContext).toBeUndefined();
  });

  it('shares the database with other adapters by keeping to tables prefixed queue_', () => {
    const db = openDatabase(':memory:');
    new SqliteWorkQueue(db, { maxDeliveries: 1 });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'").pluck().all() as string[];
    expect(tables.length).toBeGreaterThan(0);
    expect(tables.filter((name) => !name.startsWith('queue_'))).toEqual([]);
    db.close();
  });

  it('settles requests made together in one transaction, failing only the one whose lock is lost', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00.000Z'));
    const db = openDatabase(':memory:');
    const queue = new SqliteWorkQueue(db, { clock, maxDeliveries: 5, lockDurationMs: 1_000 });
    await queue.send('imports', [{ messageId: 'lost', body: {} }]);
    const [stale] = await queue.receive('imports', { maxMessages: 1, sessions: false });
    clock.advance(1_000);
    await queue.send('imports', [{ messageId: 'a', body: {} }, { messageId: 'b', body: {} }]);
    const [current, a, b] = await queue.receive('imports', { maxMessages: 3, sessions: false });
    const results = await Promise.allSettled([queue.complete(a!), queue.complete(stale!), queue.abandon(b!, 'retry'), queue.complete(current!)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(await queue.receive('imports', { maxMessages: 3, sessions: false })).toEqual([expect.objectContaining({ messageId: 'b', deliveryCount: 2 })]);
    db.close();
  });

  it('drops the bookkeeping of a session once its last message is settled, however it was received', async () => {
    const db = openDatabase(':memory:');
    const queue = new SqliteWorkQueue(db, { maxDeliveries: 1 });
    const sessions = db.prepare('SELECT COUNT(*) FROM queue_sessions').pluck();
    await queue.send('provisioning', [{ messageId: 'a', sessionId: 'u1', body: {} }]);
    await queue.send('imports', [{ messageId: 'b', sessionId: 'u2', body: {} }]);
    expect(sessions.get()).toBe(2);
    const [a] = await queue.receive('provisioning', { maxMessages: 1, sessions: true });
    const [b] = await queue.receive('imports', { maxMessages: 1, sessions: false });
    await queue.complete(a!);
    await queue.deadLetter(b!, 'not wanted');
    expect(sessions.get()).toBe(0);
    db.close();
  });
});
