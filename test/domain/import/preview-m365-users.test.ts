import { resolveStatuses } from '../../../src/domain/import/import-status';
import { GraphPageCache, maxGraphPagesPerRequest, previewM365Users, type PreviewItem, type PreviewQuery } from '../../../src/domain/import/preview-m365-users';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import { signToken } from '../../../src/domain/signing/signing-key';
import { connectionId, ImportHarness } from './import-harness';

const cursorKey = Buffer.alloc(32, 7);

function preview(h: ImportHarness, pages: GraphPageCache, query: Partial<PreviewQuery> = {}) {
  return previewM365Users({ store: h.store, clock: h.clock, directories: h.deps.directories, pages, cursorKey: async () => cursorKey }, connectionId, { limit: 50, ...query });
}

async function all(h: ImportHarness, pages: GraphPageCache, query: Partial<PreviewQuery> = {}): Promise<{ items: PreviewItem[]; requests: number }> {
  const items: PreviewItem[] = [];
  let cursor: string | undefined;
  let requests = 0;
  do {
    const page = await preview(h, pages, { ...query, ...(cursor === undefined ? {} : { cursor }) });
    if (!page.ok) throw new Error(page.error.message);
    requests += 1;
    items.push(...page.value.items);
    cursor = page.value.nextCursor;
  } while (cursor !== undefined);
  return { items, requests };
}

/** Counts the queries a store answers. */
function countingQueries(store: DocumentStore): { store: DocumentStore; queries: () => number } {
  let queries = 0;
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (['get', 'getMany', 'query', 'count'].includes(String(property))) queries += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: counted, queries: () => queries };
}

describe('import statuses', () => {
  it('tells new, imported, conflict (any case) and other_connection apart with three queries, whatever the batch size', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    await h.addConnection({ id: 'conn-fabrikam', domains: ['fabrikam.com'] });
    const fresh = h.tenant.addPerson({ userPrincipalName: 'fresh@contoso.com' });
    const clash = h.tenant.addPerson({ userPrincipalName: 'Clash@CONTOSO.com' });
    const shared = h.tenant.addPerson({ userPrincipalName: 'sam@contoso.com', mail: 'SAM@fabrikam.com' });
    const imported = h.tenant.addPerson({ userPrincipalName: 'ada@contoso.com' });
    const broken = h.tenant.addPerson({ userPrincipalName: 'not an address', mail: null });
    const clashUser = await h.directoryUser('clash@contoso.com');
    const sam = await h.directoryUser('sam@fabrikam.com');
    const { bindUser } = await import('../../../src/domain/provisioning/bind-user');
    expect((await bindUser(h.deps, 'conn-fabrikam', sam)).ok).toBe(true);
    await h.start({ m365UserIds: [imported.id] });
    await h.drain();
    const [ada] = await h.usersByEmail('ada@contoso.com');

    const counting = countingQueries(h.inner);
    const statuses = await resolveStatuses(counting.store, connectionId, [fresh, clash, shared, imported, broken]);
    expect(Object.fromEntries(statuses)).toEqual({
      [fresh.id]: { status: 'new' },
      [clash.id]: { status: 'conflict', userId: clashUser },
      [shared.id]: { status: 'other_connection', userId: sam, boundConnectionId: 'conn-fabrikam' },
      [imported.id]: { status: 'imported', userId: ada?.id },
      [broken.id]: { status: 'new' },
    });
    expect(counting.queries()).toBe(3);

    const many = Array.from({ length: 200 }, (_, i) => h.tenant.addPerson({ userPrincipalName: `bulk${i}@contoso.com` }));
    const bulk = countingQueries(h.inner);
    await resolveStatuses(bulk.store, connectionId, [...many, clash, shared]);
    expect(bulk.queries()).toBe(3);
  });
});

describe('the import preview', () => {
  it('lists every user once across Graph pages and admin pages, reading each Graph page once', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    h.tenant.pageSize = 4;
    for (let i = 0; i < 10; i += 1) h.tenant.addPerson({ userPrincipalName: `u${i}@contoso.com`, displayName: `User ${i}` });
    const pages = new GraphPageCache(h.clock);
    const listed = await all(h, pages, { limit: 3 });
    expect(listed.items.map((u) => u.userPrincipalName)).toEqual(h.tenant.persons.map((p) => p.userPrincipalName));
    expect(listed.requests).toBe(4);
    expect(h.tenant.reads).toEqual(['users first', 'users fake://users?enabled=undefined#4', 'users fake://users?enabled=undefined#8']);

    // A fresh listing asks Graph again, so a new account shows at once.
    h.tenant.addPerson({ userPrincipalName: 'late@contoso.com' });
    h.tenant.pageSize = 20;
    const again = await preview(h, pages);
    expect(again.ok && again.value.items.map((u) => u.userPrincipalName)).toContain('late@contoso.com');
  });

  it('keeps a cursor valid after its cached page expired, by reading the page again', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    for (let i = 0; i < 5; i += 1) h.tenant.addPerson({ userPrincipalName: `u${i}@contoso.com` });
    const pages = new GraphPageCache(h.clock);
    const first = await preview(h, pages, { limit: 2 });
    if (!first.ok) throw new Error(first.error.message);
    h.clock.advance(10 * 60_000);
    const second = await preview(h, pages, { limit: 2, ...(first.value.nextCursor === undefined ? {} : { cursor: first.value.nextCursor }) });
    expect(second.ok && second.value.items.map((u) => u.userPrincipalName)).toEqual(['u2@contoso.com', 'u3@contoso.com']);
    expect(h.tenant.reads).toEqual(['users first', 'users first', 'users fake://users?enabled=undefined#3']);
  });

  it('filters by status, domain, text and enabled while streaming', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    h.tenant.addPerson({ userPrincipalName: 'ada@contoso.com', displayName: 'Ada Lovelace', givenName: 'Ada' });
    h.tenant.addPerson({ userPrincipalName: 'grace@contoso.com', displayName: 'Grace Hopper', accountEnabled: false });
    h.tenant.addPerson({ userPrincipalName: 'svc@contoso.onmicrosoft.com', mail: null, displayName: 'Service' });
    h.tenant.addPerson({ userPrincipalName: 'alan@contoso.com', mail: 'Alan.Turing@contoso.com', displayName: 'Alan' });
    await h.directoryUser('alan.turing@contoso.com');
    const pages = new GraphPageCache(h.clock);
    const upns = async (query: Partial<PreviewQuery>) => (await all(h, pages, query)).items.map((u) => u.userPrincipalName);
    expect(await upns({ status: 'conflict' })).toEqual(['alan@contoso.com']);
    expect(await upns({ status: 'new' })).toEqual(['ada@contoso.com', 'grace@contoso.com', 'svc@contoso.onmicrosoft.com']);
    expect(await upns({ domain: 'contoso.onmicrosoft.com' })).toEqual(['svc@contoso.onmicrosoft.com']);
    expect(await upns({ q: 'HOPPER' })).toEqual(['grace@contoso.com']);
    expect(await upns({ q: 'turing' })).toEqual(['alan@contoso.com']);
    expect(await upns({ enabled: false })).toEqual(['grace@contoso.com']);
    expect(await upns({ enabled: true, status: 'new', domain: 'contoso.com' })).toEqual(['ada@contoso.com']);
  });

  it('lists imported users alone with one store query per Graph page, leaving conflicts and new users out', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const imported = h.tenant.addPerson({ userPrincipalName: 'ada@contoso.com' });
    h.tenant.addPerson({ userPrincipalName: 'Clash@CONTOSO.com' });
    h.tenant.addPerson({ userPrincipalName: 'fresh@contoso.com' });
    await h.directoryUser('clash@contoso.com');
    await h.start({ m365UserIds: [imported.id] });
    await h.drain();
    const [ada] = await h.usersByEmail('ada@contoso.com');
    const counting = countingQueries(h.store);
    const listed = await previewM365Users({ store: counting.store, clock: h.clock, directories: h.deps.directories, pages: new GraphPageCache(h.clock), cursorKey: async () => cursorKey }, connectionId, { limit: 50, status: 'imported' });
    expect(listed.ok && listed.value.items).toEqual([expect.objectContaining({ id: imported.id, status: 'imported', userId: ada?.id })]);
    // The connection's read, then the bindings of the page's users.
    expect(counting.queries()).toBe(2);
  });

  it('answers a selective filter after a bounded number of Graph pages, with a cursor to go on', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    h.tenant.pageSize = 2;
    for (let i = 0; i < 2 * maxGraphPagesPerRequest + 4; i += 1) h.tenant.addPerson({ userPrincipalName: `u${i}@contoso.com` });
    h.tenant.addPerson({ userPrincipalName: 'needle@contoso.com' });
    const pages = new GraphPageCache(h.clock);
    const first = await preview(h, pages, { q: 'needle' });
    expect(first.ok && first.value.items).toEqual([]);
    expect(first.ok && first.value.nextCursor).toEqual(expect.any(String));
    expect(h.tenant.reads).toHaveLength(maxGraphPagesPerRequest);
    expect((await all(h, pages, { q: 'needle' })).items.map((u) => u.userPrincipalName)).toEqual(['needle@contoso.com']);
  });

  it('refuses a cursor made for other filters, another connection, or not made here', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    await h.addConnection({ id: 'conn-other' });
    for (let i = 0; i < 5; i += 1) h.tenant.addPerson({ userPrincipalName: `u${i}@contoso.com` });
    const pages = new GraphPageCache(h.clock);
    const first = await preview(h, pages, { limit: 2 });
    const cursor = first.ok ? (first.value.nextCursor as string) : '';
    expect(await preview(h, pages, { limit: 2, cursor, q: 'u' })).toMatchObject({ ok: false, error: { code: 'invalid_cursor' } });
    const other = await previewM365Users({ store: h.store, clock: h.clock, directories: h.deps.directories, pages, cursorKey: async () => cursorKey }, 'conn-other', { limit: 2, cursor });
    expect(other).toMatchObject({ ok: false, error: { code: 'invalid_cursor' } });
    expect(await preview(h, pages, { cursor: 'not-a-cursor' })).toMatchObject({ ok: false, error: { code: 'invalid_cursor' } });
  });

  it('follows only cursors it signed: a reader cannot steer the Graph query through one', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    h.tenant.pageSize = 2;
    for (let i = 0; i < 5; i += 1) h.tenant.addPerson({ userPrincipalName: `u${i}@contoso.com` });
    const pages = new GraphPageCache(h.clock);
    const first = await preview(h, pages, { limit: 2 });
    const cursor = first.ok ? (first.value.nextCursor as string) : '';
    const [payload = '', signature = ''] = cursor.split('.');
    const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    const steered = 'https://graph.microsoft.com/v1.0/users?$select=jobTitle&$filter=startswith(displayName,%27a%27)&$expand=manager&$top=999';
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const readsBefore = h.tenant.reads.length;
    const forgeries = [
      `${encode({ ...decoded, p: steered })}.${signature}`,
      encode({ ...decoded, p: steered }),
      `${encode(null)}.${signature}`,
      encode(null),
      signToken(Buffer.alloc(32, 8), { ...decoded, p: steered }),
    ];
    for (const forged of forgeries) expect(await preview(h, pages, { limit: 2, cursor: forged })).toMatchObject({ ok: false, error: { code: 'invalid_cursor' } });
    expect(h.tenant.reads.length).toBe(readsBefore);
    expect((await preview(h, pages, { limit: 2, cursor })).ok).toBe(true);
  });

  it('refuses a connection that has no consent to read with', async () => {
    const h = new ImportHarness();
    await h.addConnection({ status: 'pending_consent' });
    expect(await preview(h, new GraphPageCache(h.clock))).toMatchObject({ ok: false, error: { code: 'connection_not_active' } });
  });
});
