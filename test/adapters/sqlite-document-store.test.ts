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

describe('SQLite text search index', () => {
  const fields = ['name', 'email'];
  const search = async (store: SqliteDocumentStore, value: string): Promise<string[]> =>
    (await store.query('users', { where: [{ fields, op: 'contains', value }], limit: 100 })).items.map((d) => d.id);

  it('is built from the documents there at the first search, then kept in step by every connection’s writes', async () => {
    const file = join(folder, 'text-index', 'm365-bridge.db');
    const db = openDatabase(file);
    const other = openDatabase(file);
    try {
      const store = new SqliteDocumentStore(db);
      await store.create('users', 'u1', 'u1', { name: 'Émile Zola', email: 'emile@contoso.com' });
      await store.create('users', 'u2', 'u2', { name: 'Ada Lovelace', email: 'ada@contoso.com' });
      await store.create('groups', 'g1', 'g1', { name: 'Émile fans', email: 'fans@contoso.com' });
      expect(await search(store, 'ÉMILE')).toEqual(['u1']);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'documents_text:%' ORDER BY name").all()).toEqual(
        ['delete', 'insert', 'update'].map((on) => ({ name: `documents_text:users:name,email:${on}` })),
      );

      // Writes through another connection (another store, as the work queue shares the file) reach the index.
      const writer = new SqliteDocumentStore(other);
      await writer.upsert('users', 'u2', 'u2', { name: 'Ada King', email: 'ada@contoso.com' });
      await writer.create('users', 'u3', 'u3', { name: 'Emile Durkheim', email: 'durkheim@contoso.com' });
      await writer.delete('users', 'u1', 'u1');
      expect(await search(store, 'emile')).toEqual(['u3']);
      expect(await search(store, 'king')).toEqual(['u2']);
      expect(await search(store, 'lovelace')).toEqual([]);
      // Needles shorter than a trigram, and quotes, still match exactly.
      expect(await search(store, 'ki')).toEqual(['u2']);
      await writer.create('users', 'u4', 'u4', { name: 'The "Quoted" One', email: 'q@contoso.com' });
      expect(await search(store, '"quoted"')).toEqual(['u4']);
      expect(await store.count('users', { where: [{ fields, op: 'contains', value: 'contoso' }] })).toBe(3);
      // A NUL would end FTS5's quoted string: such needles are matched without the index, not refused.
      await writer.create('users', 'u5', 'u5', { name: 'Nul\u0000Byte', email: 'nul@contoso.com' });
      expect(await search(store, 'l\u0000B')).toEqual(['u5']);
      expect(await search(store, '\u0000\u0000\u0000')).toEqual([]);
      // A fresh store on the same file finds the index there and uses it as it is.
      expect(await search(new SqliteDocumentStore(other), 'durk')).toEqual(['u3']);
    } finally {
      other.close();
      db.close();
    }
  });
});
