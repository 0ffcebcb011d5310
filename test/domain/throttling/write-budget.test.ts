import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import { systemClock } from '../../../src/domain/ports/clock';
import { AppWriteBudget, StoreTokenBuckets } from '../../../src/domain/throttling/write-budget';

/** Limits per second the tests reason in: Graph's windows hold 300 s (app) and 150 s (tenant) of them. */
function limits(appPerSecond: number, tenantPerSecond: number) {
  return { appWritesPer5Minutes: appPerSecond * 300, tenantWritesPer150Seconds: tenantPerSecond * 150 };
}

describe('the app-wide write budget', () => {
  let store: SqliteDocumentStore;

  beforeEach(() => {
    store = new SqliteDocumentStore(openDatabase(':memory:'), { clock: systemClock });
  });

  afterEach(async () => {
    await store.close();
  });

  it('serves the connections with work in turns: a tenant with little work is done while a busy one still waits', async () => {
    const budget = new AppWriteBudget(new StoreTokenBuckets(store, systemClock), systemClock, limits(40, 1_000));
    const order: string[] = [];
    const busy = Array.from({ length: 60 }, () => budget.acquire('busy').then(() => order.push('busy')));
    const small = Array.from({ length: 5 }, () => budget.acquire('small').then(() => order.push('small')));
    await Promise.all([...busy, ...small]);
    // Round robin: the small tenant's five writes are among the first ten granted.
    expect(order.slice(0, 10).filter((c) => c === 'small')).toHaveLength(5);
    expect(order).toHaveLength(65);
  });

  it('holds every instance sharing the store to the app-wide rate, and each connection to its tenant rate', async () => {
    const buckets = new StoreTokenBuckets(store, systemClock);
    // Two instances of the app: 20 writes per second between them; 8 per second per tenant.
    const instances = [new AppWriteBudget(buckets, systemClock, limits(20, 8)), new AppWriteBudget(buckets, systemClock, limits(20, 8))];
    const granted = new Map<string, number>();
    const started = Date.now();
    const stopAt = started + 1_500;
    await Promise.all(
      ['a', 'b', 'c', 'd'].flatMap((connection, i) =>
        Array.from({ length: 4 }, async () => {
          while (Date.now() < stopAt) {
            if (await (instances[i % 2] as AppWriteBudget).acquire(connection)) granted.set(connection, (granted.get(connection) ?? 0) + 1);
          }
        }),
      ),
    );
    const seconds = (Date.now() - started) / 1000;
    const total = [...granted.values()].reduce((a, b) => a + b, 0);
    // The shared bucket: a burst of one second's worth (19) plus 19.6 per second, never the 2 x 20 two private ones would allow.
    expect(total).toBeLessThanOrEqual(Math.ceil(19 + 19.6 * seconds) + 1);
    expect(total).toBeGreaterThanOrEqual(Math.floor(19 * 1.5 * 0.8));
    for (const count of granted.values()) expect(count).toBeLessThanOrEqual(Math.ceil(7 + 7.84 * seconds) + 1);
  });

  it('gives up on a write that waited longer than it may', async () => {
    const budget = new AppWriteBudget(new StoreTokenBuckets(store, systemClock), systemClock, limits(1, 1), { maxWaitMs: 200 });
    expect(await budget.acquire('only')).toBe(true);
    const started = Date.now();
    expect(await budget.acquire('only')).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('the app-wide write budget when its store fails', () => {
  it('lets the waiting writes give up instead of failing over and over, and tries the store again for the next one', async () => {
    const db = openDatabase(':memory:');
    const store = new SqliteDocumentStore(db, { clock: systemClock });
    // One write per second each for the app and a tenant: every further write needs the store.
    const budget = new AppWriteBudget(new StoreTokenBuckets(store, systemClock), systemClock, { appWritesPer5Minutes: 300, tenantWritesPer150Seconds: 150 });
    expect(await budget.acquire('c')).toBe(true);
    db.close();
    expect(await Promise.all([budget.acquire('c'), budget.acquire('d')])).toEqual([false, false]);
    expect(await budget.acquire('c')).toBe(false);
  });
});
