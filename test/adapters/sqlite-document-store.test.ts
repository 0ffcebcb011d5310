import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../src/adapters/sqlite/sqlite-document-store';
import { describeDocumentStoreContract } from '../contract/document-store.contract';

const folder = mkdtempSync(join(tmpdir(), 'document-store-'));
let databases = 0;

afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

// A file per test rather than :memory:, so folder creation and WAL are exercised as in production.
describeDocumentStoreContract('SQLite', async (clock) => {
  databases += 1;
  const db = openDatabase(join(folder, `data-${databases}`, 'm365-bridge.db'));
  const store = new SqliteDocumentStore(db, { clock });
  const closeStore = store.close.bind(store);
  // The store leaves the shared handle open by design; the test owns it and closes it.
  return Object.assign(store, {
    close: async () => {
      await closeStore();
      db.close();
    },
  });
});

describe('openDatabase', () => {
  it('opens the database in WAL mode with foreign keys on and a 4 MB page cache instead of the 16 MB better-sqlite3 builds in', () => {
    const db = openDatabase(join(folder, 'pragmas', 'nested', 'm365-bridge.db'));
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
      expect(db.pragma('cache_size', { simple: true })).toBe(-4096);
    } finally {
      db.close();
    }
  });
});
