import path from 'node:path';
import { createLogger } from '../../src/adapters/logging/pino-logger';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../src/adapters/sqlite/sqlite-document-store';
import { createDirectoryHooks } from '../../src/app/directory-hooks';
import { systemClock } from '../../src/domain/ports/clock';
import { createUser } from '../../src/domain/directory/users';

export function emailOf(i: number): string {
  return `user${i}@bench.example.com`;
}

/**
 * Loads users into DATA_DIR's embedded store through the createUser use case (claims and all). The
 * store's calls run synchronously on this one connection, so batches of creates share one SQLite
 * transaction: a commit per batch instead of three per user. Returns the user ids in order.
 */
export async function loadUsers(dataDir: string, settings: { readonly users: number; readonly loadBatch: number }): Promise<string[]> {
  const db = openDatabase(path.join(dataDir, 'm365-bridge.db'));
  const store = new SqliteDocumentStore(db);
  const deps = { store, clock: systemClock, directoryHooks: createDirectoryHooks(createLogger({ level: 'warn' })) };
  const ids: string[] = new Array<string>(settings.users);
  for (let start = 0; start < settings.users; start += settings.loadBatch) {
    const end = Math.min(settings.users, start + settings.loadBatch);
    db.exec('BEGIN');
    const batch = await Promise.all(
      Array.from({ length: end - start }, (_, offset) =>
        createUser(deps, { email: emailOf(start + offset), firstName: `First${start + offset}`, lastName: `Last${start + offset}`, jobTitle: 'Engineer', department: 'Bench' }),
      ),
    );
    db.exec('COMMIT');
    batch.forEach((created, offset) => {
      if (!created.ok) throw new Error(`loading user ${start + offset} failed: ${created.error.code}`);
      ids[start + offset] = created.value.value.id;
    });
  }
  await store.close();
  db.close();
  return ids;
}
