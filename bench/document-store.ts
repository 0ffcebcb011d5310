import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../src/adapters/sqlite/sqlite-document-store';

/**
 * `npm run bench -- document-store [users]`: the SQLite document store with `users` (default
 * 100,000) user documents: latency of point reads, inserts, replaces, sorted pages and searches.
 */
export async function run(args: string[]): Promise<void> {
  const userCount = Number(args[0] ?? 100_000);
  if (!Number.isInteger(userCount) || userCount < 1) throw new RangeError('users must be a positive integer');
  const folder = mkdtempSync(join(tmpdir(), 'bench-document-store-'));
  const db = openDatabase(join(folder, 'm365-bridge.db'));
  const store = new SqliteDocumentStore(db);
  try {
    const seedStart = performance.now();
    for (let i = 0; i < userCount; i += 1) await store.create('users', userId(i), userId(i), user(i));
    const seedMs = performance.now() - seedStart;
    print(`seeded ${userCount} users in ${(seedMs / 1000).toFixed(1)} s (${Math.round(userCount / (seedMs / 1000))} creates/s)`);

    const random = (): number => Math.floor(Math.random() * userCount);
    print(report('get (point read)', await time(5000, () => store.get('users', userId(random()), userId(random())).then(() => undefined))));
    print(report('get (hit)', await time(5000, async () => {
      const i = random();
      if ((await store.get('users', userId(i), userId(i))) === undefined) throw new Error('missing user');
    })));
    let next = userCount;
    print(report('create', await time(5000, async () => {
      const i = next++;
      await store.create('users', userId(i), userId(i), user(i));
    })));
    print(report('replace (ifMatch)', await time(5000, async () => {
      const i = random();
      const current = await store.get<ReturnType<typeof user>>('users', userId(i), userId(i));
      if (current === undefined) throw new Error('missing user');
      await store.replace('users', userId(i), userId(i), { ...current.data, jobTitle: 'Engineer II' }, { ifMatch: current.etag });
    })));

    let cursor: string | undefined;
    print(report('page of 50 by email', await time(500, async () => {
      const page = await store.query('users', { orderBy: { field: 'email', direction: 'asc' }, limit: 50, ...(cursor === undefined ? {} : { cursor }) });
      cursor = page.nextCursor;
    })));
    print(report('page of 50 by id, state = active', await time(500, async () => {
      await store.query('users', { where: [{ field: 'state', op: 'eq', value: 'active' }], limit: 50 });
    })));
    print(report('search q (contains, 3 fields, no match)', await time(20, async () => {
      await store.query('users', { where: [{ fields: ['email', 'firstName', 'lastName'], op: 'contains', value: 'zzzz' }], limit: 50 });
    })));
    print(report('count all', await time(20, async () => {
      await store.count('users', {});
    })));
  } finally {
    await store.close();
    db.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

function userId(i: number): string {
  return `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
}

function user(i: number) {
  return {
    id: userId(i),
    email: `user${(i * 7919) % 1_000_003}.${i}@contoso.com`,
    username: `user${i}`,
    firstName: `First${i % 997}`,
    lastName: `Last${i % 1009}`,
    displayName: `First${i % 997} Last${i % 1009}`,
    jobTitle: 'Engineer',
    department: `Department ${i % 40}`,
    company: 'Contoso',
    employeeId: `E${i}`,
    phoneNumbers: [{ type: 'work', number: `+1 555 ${String(i).padStart(7, '0')}` }],
    addresses: [{ type: 'work', streetAddress: '1 Main St', locality: 'Redmond', region: 'WA', postalCode: '98052', country: 'US' }],
    state: i % 10 === 0 ? 'suspended' : 'active',
    createdAt: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
    updatedAt: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
  };
}

async function time(iterations: number, operation: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i += 1) {
    const start = performance.now();
    await operation();
    samples.push(performance.now() - start);
  }
  return samples.sort((a, b) => a - b);
}

function report(name: string, sortedMs: readonly number[]): string {
  const at = (q: number): string => (sortedMs[Math.min(sortedMs.length - 1, Math.floor(q * sortedMs.length))] ?? Number.NaN).toFixed(3);
  return `${name.padEnd(42)} n=${String(sortedMs.length).padStart(5)}  p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  max ${at(1)} ms`;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}
