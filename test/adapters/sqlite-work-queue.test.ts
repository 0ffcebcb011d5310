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
