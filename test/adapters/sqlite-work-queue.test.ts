import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteWorkQueue } from '../../src/adapters/sqlite/sqlite-work-queue';
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
});
