import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import type { DirectoryDeps } from '../../../src/domain/directory/directory-deps';
import { createGroup } from '../../../src/domain/directory/groups';
import { claimTakeoverAfterMs } from '../../../src/domain/directory/unique-claims';
import { createUser, listUsers, updateUser } from '../../../src/domain/directory/users';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import { RecordingHooks, expectOk } from './directory-harness';
import { useCosmosTestServer } from '../../support/cosmos-test-server';
import { ManualClock } from '../../support/manual-clock';

/** Two stores on one database, as two hosts have; `close` releases both. */
interface StorePair {
  readonly stores: readonly [DocumentStore, DocumentStore];
  close(): Promise<void>;
}

function describeUniquenessRaces(name: string, openPair: (clock: ManualClock) => Promise<StorePair>): void {
  describe(`uniqueness under races (${name})`, () => {
    let pair: StorePair;
    let deps: DirectoryDeps[];
    let clock: ManualClock;
    beforeEach(async () => {
      clock = new ManualClock(Date.parse('2026-01-05T09:00:00.000Z'));
      pair = await openPair(clock);
      deps = pair.stores.map((store) => ({ store, clock, directoryHooks: new RecordingHooks() }));
    });
    afterEach(() => pair.close());

    it('lets exactly one of 20 concurrent creates of one email (in varying case) succeed', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => createUser(deps[i % 2]!, { email: i % 3 === 0 ? 'Race@Example.com' : 'race@example.COM', username: `racer${i}` })),
      );
      expect(results.filter((result) => result.ok)).toHaveLength(1);
      expect(results.filter((result) => !result.ok && result.error.code === 'email_taken')).toHaveLength(19);
      expect(expectOk(await listUsers(deps[0]!, { limit: 50 })).items).toHaveLength(1);
      // The losers released their username claims.
      const loser = results.findIndex((result) => !result.ok);
      expectOk(await createUser(deps[0]!, { email: 'other@example.com', username: `racer${loser}` }));
    });

    it('lets one of two users moving to the same email win', async () => {
      const first = expectOk(await createUser(deps[0]!, { email: 'one@example.com' })).value;
      const second = expectOk(await createUser(deps[1]!, { email: 'two@example.com' })).value;
      const results = await Promise.all([updateUser(deps[0]!, first.id, { email: 'same@example.com' }), updateUser(deps[1]!, second.id, { email: 'same@example.com' })]);
      expect(results.filter((result) => result.ok)).toHaveLength(1);
      expect(expectOk(await listUsers(deps[0]!, { q: 'same@', limit: 50 })).items).toHaveLength(1);
    });

    it('lets exactly one of 10 concurrent creates take over a stale claim', async () => {
      const id = 'email:stale%40example.com';
      await pair.stores[0].create('uniques', id, id, { kind: 'email', value: 'stale@example.com', ownerId: 'crashed', claimedAt: clock.now().toISOString() });
      clock.advance(claimTakeoverAfterMs);
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => createUser(deps[i % 2]!, { email: 'stale@example.com', username: `taker${i}` })));
      expect(results.filter((result) => result.ok)).toHaveLength(1);
      expect(expectOk(await listUsers(deps[0]!, { email: 'stale@example.com', limit: 50 })).items).toHaveLength(1);
    });

    it('lets exactly one of 10 concurrent creates of one group name succeed', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => createGroup(deps[i % 2]!, { name: i % 2 === 0 ? 'Admins' : 'ADMINS' })));
      expect(results.filter((result) => result.ok)).toHaveLength(1);
    });
  });
}

describeUniquenessRaces('SQLite, two connections', async (clock) => {
  const folder = mkdtempSync(join(tmpdir(), 'directory-race-'));
  const handles = [openDatabase(join(folder, 'db')), openDatabase(join(folder, 'db'))];
  return {
    stores: [new SqliteDocumentStore(handles[0]!, { clock }), new SqliteDocumentStore(handles[1]!, { clock })],
    async close() {
      handles.forEach((db) => db.close());
      rmSync(folder, { recursive: true, force: true });
    },
  };
});

const cosmos = useCosmosTestServer();
let databases = 0;

describeUniquenessRaces('Cosmos DB (@vercel/cosmosdb-server), two clients', async (clock) => {
  databases += 1;
  const database = `directory-race-${databases}`;
  const stores = [
    await cosmos.open(database, clock),
    await cosmos.open(database, clock),
  ] as const;
  return {
    stores,
    async close() {
      await Promise.all(stores.map((store) => store.close()));
    },
  };
});
