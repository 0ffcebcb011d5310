import type { Clock } from '../../src/domain/ports/clock';
import { InvalidCursorError } from '../../src/domain/ports/document-store';
import type { Condition, ContainerName, DocumentStore, QuerySpec, StoredDocument } from '../../src/domain/ports/document-store';
import { ManualClock } from '../support/manual-clock';

/** A clock the test moves by hand. */

/** Builds a fresh, empty store that reads time from `clock`. */
export type DocumentStoreFactory = (clock: Clock) => Promise<DocumentStore>;

interface Person {
  readonly name?: unknown;
  readonly [field: string]: unknown;
}

/**
 * The DocumentStore contract. Every adapter runs it unchanged; the suite owns no setup beyond the
 * factory, so an adapter's test file only starts and stops what the adapter needs.
 */
export function describeDocumentStoreContract(name: string, factory: DocumentStoreFactory): void {
  describe(`DocumentStore contract: ${name}`, () => {
    let clock: ManualClock;
    let store: DocumentStore;

    beforeEach(async () => {
      clock = new ManualClock(Date.UTC(2030, 0, 1));
      store = await factory(clock);
    });

    afterEach(async () => {
      await store.close();
    });

    /** Every page of a query, checking that only the last page lacks a cursor and no page exceeds the limit. */
    async function allPages<T>(container: ContainerName, spec: Omit<QuerySpec, 'cursor'>): Promise<StoredDocument<T>[]> {
      const items: StoredDocument<T>[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 200; page += 1) {
        const result = await store.query<T>(container, cursor === undefined ? spec : { ...spec, cursor });
        expect(result.items.length).toBeLessThanOrEqual(spec.limit);
        items.push(...result.items);
        if (result.nextCursor === undefined) return items;
        expect(result.items).toHaveLength(spec.limit);
        cursor = result.nextCursor;
      }
      throw new Error('paging did not end');
    }

    const keyOf = (document: { pk: string; id: string }): string => `${document.pk}/${document.id}`;

    describe('point operations', () => {
      it('creates a document and reads it back by partition and id', async () => {
        const created = await store.create('users', 'u1', 'u1', { email: 'a@example.com', tags: ['x'], nested: { n: 1.5 } });
        expect(created.ok).toBe(true);
        if (!created.ok) return;
        expect(created.value).toMatchObject({ id: 'u1', pk: 'u1', data: { email: 'a@example.com' } });
        expect(created.value.expiresAt).toBeUndefined();
        const read = await store.get('users', 'u1', 'u1');
        expect(read).toEqual({ id: 'u1', pk: 'u1', etag: created.value.etag, data: { email: 'a@example.com', tags: ['x'], nested: { n: 1.5 } } });
      });

      it('keeps containers and partitions apart', async () => {
        await store.create('users', 'p', 'x', { where: 'users' });
        expect(await store.get('groups', 'p', 'x')).toBeUndefined();
        expect(await store.get('users', 'other', 'x')).toBeUndefined();
        expect((await store.create('groups', 'p', 'x', { where: 'groups' })).ok).toBe(true);
        expect((await store.create('users', 'other', 'x', { where: 'other' })).ok).toBe(true);
        expect((await store.get<{ where: string }>('users', 'p', 'x'))?.data.where).toBe('users');
      });

      it('answers conflict to a create of an existing id and leaves the document alone', async () => {
        const first = await store.create('users', 'u1', 'u1', { v: 1 });
        const second = await store.create('users', 'u1', 'u1', { v: 2 });
        expect(second).toEqual({ ok: false, error: 'conflict' });
        const read = await store.get('users', 'u1', 'u1');
        expect(read?.data).toEqual({ v: 1 });
        expect(first.ok && read?.etag === first.value.etag).toBe(true);
      });

      it('returns undefined for a missing document', async () => {
        expect(await store.get('users', 'nobody', 'nobody')).toBeUndefined();
      });

      it('replaces with the current etag and changes the etag', async () => {
        const created = await store.create('users', 'u1', 'u1', { v: 1 });
        if (!created.ok) throw new Error('create failed');
        const replaced = await store.replace('users', 'u1', 'u1', { v: 2 }, { ifMatch: created.value.etag });
        expect(replaced.ok).toBe(true);
        if (!replaced.ok) return;
        expect(replaced.value.etag).not.toBe(created.value.etag);
        expect(await store.get('users', 'u1', 'u1')).toEqual({ id: 'u1', pk: 'u1', etag: replaced.value.etag, data: { v: 2 } });
      });

      it('refuses a replace with a stale etag and keeps the newer data', async () => {
        const created = await store.create('users', 'u1', 'u1', { v: 1 });
        if (!created.ok) throw new Error('create failed');
        await store.replace('users', 'u1', 'u1', { v: 2 }, { ifMatch: created.value.etag });
        const stale = await store.replace('users', 'u1', 'u1', { v: 3 }, { ifMatch: created.value.etag });
        expect(stale).toEqual({ ok: false, error: 'precondition_failed' });
        expect((await store.get('users', 'u1', 'u1'))?.data).toEqual({ v: 2 });
      });

      it('replaces unconditionally without ifMatch', async () => {
        await store.create('users', 'u1', 'u1', { v: 1 });
        const replaced = await store.replace('users', 'u1', 'u1', { v: 2 });
        expect(replaced.ok).toBe(true);
        expect((await store.get('users', 'u1', 'u1'))?.data).toEqual({ v: 2 });
      });

      it('answers not_found to a replace of a missing document, with or without ifMatch, and creates nothing', async () => {
        expect(await store.replace('users', 'u1', 'u1', { v: 1 })).toEqual({ ok: false, error: 'not_found' });
        expect(await store.replace('users', 'u1', 'u1', { v: 1 }, { ifMatch: 'whatever' })).toEqual({ ok: false, error: 'not_found' });
        expect(await store.get('users', 'u1', 'u1')).toBeUndefined();
      });

      it('upserts: creates when absent, overwrites when present, new etag each time', async () => {
        const first = await store.upsert('users', 'u1', 'u1', { v: 1 });
        const second = await store.upsert('users', 'u1', 'u1', { v: 2 });
        expect(second.etag).not.toBe(first.etag);
        expect(await store.get('users', 'u1', 'u1')).toEqual({ id: 'u1', pk: 'u1', etag: second.etag, data: { v: 2 } });
      });

      it('deletes without ifMatch, then answers not_found', async () => {
        await store.create('users', 'u1', 'u1', { v: 1 });
        expect(await store.delete('users', 'u1', 'u1')).toEqual({ ok: true, value: undefined });
        expect(await store.get('users', 'u1', 'u1')).toBeUndefined();
        expect(await store.delete('users', 'u1', 'u1')).toEqual({ ok: false, error: 'not_found' });
      });

      it('deletes with the current etag and refuses a stale one', async () => {
        const created = await store.create('users', 'u1', 'u1', { v: 1 });
        if (!created.ok) throw new Error('create failed');
        const replaced = await store.upsert('users', 'u1', 'u1', { v: 2 });
        expect(await store.delete('users', 'u1', 'u1', { ifMatch: created.value.etag })).toEqual({ ok: false, error: 'precondition_failed' });
        expect(await store.get('users', 'u1', 'u1')).toBeDefined();
        expect(await store.delete('users', 'u1', 'u1', { ifMatch: replaced.etag })).toEqual({ ok: true, value: undefined });
        expect(await store.get('users', 'u1', 'u1')).toBeUndefined();
      });

      it('answers not_found to a delete of a missing document with ifMatch', async () => {
        expect(await store.delete('users', 'u1', 'u1', { ifMatch: 'whatever' })).toEqual({ ok: false, error: 'not_found' });
      });

      it('gets many documents of one partition in the order asked, skipping missing ones', async () => {
        await store.create('memberships', 'g1', 'a', { n: 'a' });
        await store.create('memberships', 'g1', 'b', { n: 'b' });
        await store.create('memberships', 'g1', 'c', { n: 'c' });
        await store.create('memberships', 'g2', 'd', { n: 'd' });
        const many = await store.getMany<{ n: string }>('memberships', 'g1', ['c', 'missing', 'a', 'd']);
        expect(many.map((document) => document.data.n)).toEqual(['c', 'a']);
        expect(many[0]?.pk).toBe('g1');
        expect(await store.getMany('memberships', 'g1', [])).toEqual([]);
      });

      it('round-trips ids that Cosmos DB would refuse as is', async () => {
        const id = 'a/b\\c?d#e%2F f';
        await store.create('uniques', 'email:odd', id, { v: 1 });
        expect((await store.get('uniques', 'email:odd', id))?.id).toBe(id);
        expect((await store.getMany('uniques', 'email:odd', [id])).map((document) => document.id)).toEqual([id]);
        const page = await store.query('uniques', { pk: 'email:odd', limit: 10 });
        expect(page.items.map((document) => document.id)).toEqual([id]);
        expect(await store.delete('uniques', 'email:odd', id)).toEqual({ ok: true, value: undefined });
      });

      it('lets exactly one of two concurrent creates of one id win', async () => {
        const results = await Promise.all([store.create('uniques', 'email:a@b.c', 'claim', { by: 1 }), store.create('uniques', 'email:a@b.c', 'claim', { by: 2 })]);
        expect(results.filter((result) => result.ok)).toHaveLength(1);
        expect(results.filter((result) => !result.ok && result.error === 'conflict')).toHaveLength(1);
      });

      it('answers ping', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('expiry', () => {
      it('hides a document from every read once its TTL has passed', async () => {
        const created = await store.create('state', 'oauth', 's1', { v: 1 }, { ttlSeconds: 60 });
        expect(created.ok && created.value.expiresAt).toBe(clock.now().getTime() + 60_000);
        expect((await store.get('state', 'oauth', 's1'))?.expiresAt).toBe(clock.now().getTime() + 60_000);
        clock.advance(59_999);
        expect(await store.get('state', 'oauth', 's1')).toBeDefined();
        clock.advance(1);
        expect(await store.get('state', 'oauth', 's1')).toBeUndefined();
        expect(await store.getMany('state', 'oauth', ['s1'])).toEqual([]);
        expect((await store.query('state', { pk: 'oauth', limit: 10 })).items).toEqual([]);
        expect((await store.query('state', { limit: 10, where: [{ field: 'v', op: 'eq', value: 1 }] })).items).toEqual([]);
        expect(await store.count('state', { pk: 'oauth' })).toBe(0);
      });

      it('treats an expired document as absent for writes', async () => {
        await store.create('state', 'oauth', 's1', { v: 1 }, { ttlSeconds: 1 });
        clock.advance(1000);
        expect(await store.replace('state', 'oauth', 's1', { v: 2 })).toEqual({ ok: false, error: 'not_found' });
        expect(await store.delete('state', 'oauth', 's1')).toEqual({ ok: false, error: 'not_found' });
        const recreated = await store.create('state', 'oauth', 's1', { v: 3 });
        expect(recreated.ok).toBe(true);
        const read = await store.get('state', 'oauth', 's1');
        expect(read?.data).toEqual({ v: 3 });
        expect(read?.expiresAt).toBeUndefined();
      });

      it('lets exactly one of two concurrent creates replace an expired document', async () => {
        await store.create('leases', 'reconcile', 'lease', { owner: 'old' }, { ttlSeconds: 5 });
        clock.advance(5000);
        const results = await Promise.all([
          store.create('leases', 'reconcile', 'lease', { owner: 'a' }, { ttlSeconds: 5 }),
          store.create('leases', 'reconcile', 'lease', { owner: 'b' }, { ttlSeconds: 5 }),
        ]);
        expect(results.filter((result) => result.ok)).toHaveLength(1);
        expect(results.filter((result) => !result.ok && result.error === 'conflict')).toHaveLength(1);
        const winner = results.find((result) => result.ok);
        expect((await store.get('leases', 'reconcile', 'lease'))?.data).toEqual(winner?.ok ? winner.value.data : undefined);
      });

      it('drops a TTL when a document is rewritten without one, and sets one on upsert', async () => {
        await store.create('state', 'outbox', 'm1', { v: 1 }, { ttlSeconds: 10 });
        await store.replace('state', 'outbox', 'm1', { v: 2 });
        await store.upsert('state', 'outbox', 'm2', { v: 1 }, { ttlSeconds: 10 });
        clock.advance(3_600_000);
        expect((await store.get('state', 'outbox', 'm1'))?.data).toEqual({ v: 2 });
        expect(await store.get('state', 'outbox', 'm2')).toBeUndefined();
        const upserted = await store.upsert('state', 'outbox', 'm2', { v: 2 });
        expect(upserted.expiresAt).toBeUndefined();
        expect((await store.get('state', 'outbox', 'm2'))?.data).toEqual({ v: 2 });
      });

      it('refuses a TTL that is not a positive number', async () => {
        await expect(store.upsert('state', 'x', 'y', {}, { ttlSeconds: 0 })).rejects.toThrow(RangeError);
      });
    });

    describe('conditions', () => {
      const people: Record<string, Person> = {
        p1: { name: 'Ada Lovelace', age: 36, active: true, nick: null, m365: { id: 'm-1' }, code: '1' },
        p2: { name: 'Émile Zola', age: 62, active: false, m365: { id: 'm-2' }, code: 1 },
        p3: { name: 'grace hopper', age: 85, active: true, nick: 'amazing', title: 'Rear Admiral' },
        p4: { name: 'Linus', age: '54', active: 1 },
        p5: { name: 'Zed', value: 5, order: 'x' },
      };

      beforeEach(async () => {
        for (const [id, data] of Object.entries(people)) await store.create('users', id, id, data);
        await store.create('groups', 'g1', 'g1', { name: 'Ada Lovelace', age: 36 });
      });

      async function matching(...where: Condition[]): Promise<string[]> {
        const page = await store.query('users', { where, limit: 100 });
        expect(await store.count('users', { where })).toBe(page.items.length);
        return page.items.map((document) => document.id);
      }

      it('eq compares value and JSON type', async () => {
        expect(await matching({ field: 'name', op: 'eq', value: 'Ada Lovelace' })).toEqual(['p1']);
        expect(await matching({ field: 'age', op: 'eq', value: 36 })).toEqual(['p1']);
        expect(await matching({ field: 'age', op: 'eq', value: '54' })).toEqual(['p4']);
        expect(await matching({ field: 'active', op: 'eq', value: true })).toEqual(['p1', 'p3']);
        expect(await matching({ field: 'active', op: 'eq', value: 1 })).toEqual(['p4']);
        expect(await matching({ field: 'code', op: 'eq', value: '1' })).toEqual(['p1']);
        expect(await matching({ field: 'code', op: 'eq', value: 1 })).toEqual(['p2']);
        expect(await matching({ field: 'nick', op: 'eq', value: null })).toEqual(['p1']);
      });

      it('ne matches present fields that differ in value or type, never missing ones', async () => {
        expect(await matching({ field: 'active', op: 'ne', value: true })).toEqual(['p2', 'p4']);
        expect(await matching({ field: 'nick', op: 'ne', value: null })).toEqual(['p3']);
        expect(await matching({ field: 'name', op: 'ne', value: 'Zed' })).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(await matching({ field: 'code', op: 'ne', value: '1' })).toEqual(['p2']);
      });

      it('range operators compare within the value type', async () => {
        expect(await matching({ field: 'age', op: 'lt', value: 62 })).toEqual(['p1']);
        expect(await matching({ field: 'age', op: 'le', value: 62 })).toEqual(['p1', 'p2']);
        expect(await matching({ field: 'age', op: 'gt', value: 62 })).toEqual(['p3']);
        expect(await matching({ field: 'age', op: 'ge', value: 62 })).toEqual(['p2', 'p3']);
        expect(await matching({ field: 'age', op: 'lt', value: '6' })).toEqual(['p4']);
        expect(await matching({ field: 'name', op: 'gt', value: 'Zed' })).toEqual(['p2', 'p3']);
        expect(await matching({ field: 'name', op: 'le', value: 'Linus' })).toEqual(['p1', 'p4']);
      });

      it('in matches any listed value of the same type', async () => {
        expect(await matching({ field: 'age', op: 'in', values: [36, '54', 85, '85'] })).toEqual(['p1', 'p3', 'p4']);
        expect(await matching({ field: 'active', op: 'in', values: [true] })).toEqual(['p1', 'p3']);
        expect(await matching({ field: 'active', op: 'in', values: [1, false] })).toEqual(['p2', 'p4']);
        expect(await matching({ field: 'nick', op: 'in', values: [null, 'amazing'] })).toEqual(['p1', 'p3']);
        expect(await matching({ field: 'age', op: 'in', values: [] })).toEqual([]);
      });

      it('contains is a case-insensitive substring match over any of the fields', async () => {
        expect(await matching({ fields: ['name'], op: 'contains', value: 'ÉMILE' })).toEqual(['p2']);
        expect(await matching({ fields: ['name'], op: 'contains', value: 'a' })).toEqual(['p1', 'p2', 'p3']);
        expect(await matching({ fields: ['name', 'title'], op: 'contains', value: 'ADMIRAL' })).toEqual(['p3']);
        expect(await matching({ fields: ['nick', 'title'], op: 'contains', value: 'amaz' })).toEqual(['p3']);
        expect(await matching({ fields: ['age'], op: 'contains', value: '5' })).toEqual(['p4']);
        expect(await matching({ fields: ['age', 'm365'], op: 'contains', value: '6' })).toEqual([]);
        expect(await matching({ fields: ['name'], op: 'contains', value: '' })).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
      });

      it('exists tells present (even null) from missing fields', async () => {
        expect(await matching({ field: 'nick', op: 'exists', value: true })).toEqual(['p1', 'p3']);
        expect(await matching({ field: 'nick', op: 'exists', value: false })).toEqual(['p2', 'p4', 'p5']);
        expect(await matching({ field: 'm365.id', op: 'exists', value: true })).toEqual(['p1', 'p2']);
      });

      it('reaches nested fields and fields named like keywords', async () => {
        expect(await matching({ field: 'm365.id', op: 'eq', value: 'm-2' })).toEqual(['p2']);
        expect(await matching({ field: 'name.first', op: 'exists', value: true })).toEqual([]);
        expect(await matching({ field: 'value', op: 'eq', value: 5 })).toEqual(['p5']);
        expect(await matching({ field: 'order', op: 'eq', value: 'x' })).toEqual(['p5']);
      });

      it('requires every condition', async () => {
        expect(await matching({ field: 'active', op: 'eq', value: true }, { field: 'age', op: 'gt', value: 40 })).toEqual(['p3']);
      });

      it('rejects malformed specs as programmer errors', async () => {
        await expect(store.query('users', { where: [{ field: "name') OR 1=1 --", op: 'eq', value: 'x' }], limit: 10 })).rejects.toThrow(TypeError);
        await expect(store.query('users', { where: [{ field: 'age', op: 'lt', value: null }], limit: 10 })).rejects.toThrow(TypeError);
        await expect(store.query('users', { limit: 0 })).rejects.toThrow(RangeError);
        await expect(store.query('users', { limit: 1001 })).rejects.toThrow(RangeError);
      });
    });

    describe('ordering and paging', () => {
      const ranks: readonly (number | string)[] = [2, 0, 'b', 1, 'a', 1.5];
      const documents: { pk: string; id: string; rank: number | string }[] = [];
      for (let i = 0; i < 29; i += 1) {
        documents.push({ pk: `c${i % 3}`, id: `e${String(i % 17).padStart(2, '0')}`, rank: ranks[i % ranks.length] as number | string });
      }

      beforeEach(async () => {
        for (const { pk, id, rank } of documents) await store.create('events', pk, id, { rank, kind: id < 'e08' ? 'low' : 'high' });
        await store.create('events', 'c0', 'norank', { kind: 'low' });
        await store.create('events', 'c1', 'boolrank', { rank: true, kind: 'low' });
      });

      const byRank = (a: (typeof documents)[number], b: (typeof documents)[number]): number => {
        const type = (value: number | string): number => (typeof value === 'number' ? 0 : 1);
        if (a.rank !== b.rank) return type(a.rank) !== type(b.rank) ? type(a.rank) - type(b.rank) : a.rank < b.rank ? -1 : 1;
        if (a.id !== b.id) return a.id < b.id ? -1 : 1;
        return a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0;
      };

      it('orders across partitions by field, then id, then pk, with pages that neither repeat nor skip', async () => {
        const expected = [...documents].sort(byRank).map(keyOf);
        for (const limit of [1, 4, 7, 29]) {
          const asc = await allPages('events', { orderBy: { field: 'rank', direction: 'asc' }, limit });
          expect(asc.map(keyOf)).toEqual(expected);
          const desc = await allPages('events', { orderBy: { field: 'rank', direction: 'desc' }, limit });
          expect(desc.map(keyOf)).toEqual([...expected].reverse());
        }
      });

      it('orders within one partition and combines order with conditions', async () => {
        const inPartition = documents.filter((document) => document.pk === 'c1' && document.id >= 'e08').sort(byRank);
        const pages = await allPages('events', { pk: 'c1', where: [{ field: 'kind', op: 'eq', value: 'high' }], orderBy: { field: 'rank', direction: 'desc' }, limit: 2 });
        expect(pages.map(keyOf)).toEqual(inPartition.reverse().map(keyOf));
      });

      it('orders by id (then pk) by default, across partitions and within one', async () => {
        const all = [...documents, { pk: 'c0', id: 'norank' }, { pk: 'c1', id: 'boolrank' }];
        const expected = all.map(keyOf).sort((a, b) => {
          const [pkA = '', idA = ''] = a.split('/');
          const [pkB = '', idB = ''] = b.split('/');
          return idA !== idB ? (idA < idB ? -1 : 1) : pkA < pkB ? -1 : pkA > pkB ? 1 : 0;
        });
        expect((await allPages('events', { limit: 3 })).map(keyOf)).toEqual(expected);
        const c2 = expected.filter((key) => key.startsWith('c2/'));
        expect((await allPages('events', { pk: 'c2', limit: 4 })).map(keyOf)).toEqual(c2);
      });

      it('a full last page carries no cursor', async () => {
        const page = await store.query('events', { pk: 'c0', limit: 11 });
        expect(page.items).toHaveLength(11);
        expect(page.nextCursor).toBeUndefined();
      });

      it('keeps paging consistent while documents are added', async () => {
        const spec = { orderBy: { field: 'rank', direction: 'asc' }, limit: 5 } as const;
        const first = await store.query('events', spec);
        await store.create('events', 'c9', 'before', { rank: -1 });
        await store.create('events', 'c9', 'after', { rank: 'zzz' });
        const rest = await allPages('events', { ...spec, cursor: first.nextCursor } as QuerySpec);
        const seen = [...first.items, ...rest].map(keyOf);
        expect(seen).toEqual([...[...documents].sort(byRank).map(keyOf), 'c9/after']);
      });

      it('counts within a partition and across partitions', async () => {
        expect(await store.count('events', {})).toBe(documents.length + 2);
        expect(await store.count('events', { pk: 'c0' })).toBe(documents.filter((document) => document.pk === 'c0').length + 1);
        expect(await store.count('events', { where: [{ field: 'rank', op: 'eq', value: 1 }] })).toBe(documents.filter((document) => document.rank === 1).length);
        expect(await store.count('events', { pk: 'nowhere' })).toBe(0);
      });

      it('rejects a cursor that is malformed or belongs to another order', async () => {
        const page = await store.query('events', { orderBy: { field: 'rank', direction: 'asc' }, limit: 2 });
        const cursor = page.nextCursor;
        expect(cursor).toBeDefined();
        await expect(store.query('events', { orderBy: { field: 'rank', direction: 'desc' }, limit: 2, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(store.query('events', { limit: 2, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(store.query('events', { pk: 'c0', orderBy: { field: 'rank', direction: 'asc' }, limit: 2, cursor })).rejects.toBeInstanceOf(InvalidCursorError);
        await expect(store.query('events', { limit: 2, cursor: 'not-a-cursor' })).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
      });
    });
  });
}
