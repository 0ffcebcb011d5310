import { contoso, manualClock, startGraphFixture, strongPassword, type GraphFixture } from './sandbox-test-client';

// Sources (microsoftgraph/microsoft-graph-docs-contrib):
// - concepts/delta-query-overview.md ($deltaToken=latest, @removed reasons, seven-day token duration,
//   410 Gone with Location for a full resync, syncStateNotFound)
// - concepts/delta-query-groups.md (members@delta, removed member `"@removed": {"reason": "deleted"}`)
// - api-reference/v1.0/api/user-delta.md, group-delta.md (@odata.nextLink / @odata.deltaLink, $select)
// - api-reference/v1.0/api/group-post-members.md, group-delete-members.md (members/$ref)
// - concepts/json-batching.md (20 requests at most, per-request status, dependsOn and 424)
// - member exists payload: ../shared/DESIGN.md "Error payloads to copy exactly"

const clock = manualClock();
let fx: GraphFixture;

beforeAll(async () => {
  fx = await startGraphFixture({ clock });
});

afterAll(async () => {
  await fx.sandbox.close();
});

const path = (link: string): string => link.slice(`${fx.sandbox.url}/v1.0`.length);

/** Follows a delta round to its deltaLink; returns every item and the deltaLink. */
async function round(start: string): Promise<{ items: Record<string, unknown>[]; deltaLink: string }> {
  const items: Record<string, unknown>[] = [];
  let next: string | undefined = start;
  for (;;) {
    const res = await fx.graph(next);
    expect(res.status).toBe(200);
    items.push(...(res.body.value as Record<string, unknown>[]));
    if (res.body['@odata.deltaLink']) return { items, deltaLink: path(res.body['@odata.deltaLink'] as string) };
    next = path(res.body['@odata.nextLink'] as string);
  }
}

async function createUser(nickname: string): Promise<string> {
  const res = await fx.graph('/users', { body: { accountEnabled: true, displayName: nickname, mailNickname: nickname, userPrincipalName: `${nickname}@contoso.com`, passwordProfile: { password: strongPassword } } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

describe('users/delta', () => {
  it('returns the full state, then exactly the changes made since', async () => {
    const initial = await round('/users/delta?$select=displayName,jobTitle,userPrincipalName');
    expect(initial.items.length).toBe(fx.sandbox.control.tenants().find((t) => t.id === contoso.id)?.userCount);
    expect(initial.items[0]).toEqual({ displayName: expect.any(String), jobTitle: expect.anything(), userPrincipalName: expect.any(String), id: expect.any(String) });

    const addedId = await createUser('delta.new');
    const helpdesk = (await fx.graph('/users/helpdesk@contoso.com')).body.id as string;
    await fx.graph(`/users/${helpdesk}`, { method: 'PATCH', body: { jobTitle: 'Lead' } });
    const obrien = (await fx.graph(`/users/${encodeURIComponent("o'brien@contoso.com")}`)).body.id as string;
    await fx.graph(`/users/${obrien}`, { method: 'PATCH', body: { officeLocation: 'B2' } }); // not tracked by $select
    const formerId = (await fx.graph('/users/former.employee@contoso.com')).body.id as string;
    await fx.graph(`/users/${formerId}`, { method: 'DELETE' });

    const changes = await round(initial.deltaLink);
    expect(changes.items).toHaveLength(3);
    expect(changes.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: addedId, userPrincipalName: 'delta.new@contoso.com' }),
        { id: helpdesk, displayName: 'Contoso Helpdesk', jobTitle: 'Lead', userPrincipalName: 'helpdesk@contoso.com' },
        { id: formerId, '@removed': { reason: 'changed' } },
      ]),
    );
    const quiet = await round(changes.deltaLink);
    expect(quiet.items).toEqual([]);
  });

  it('starts from now with $deltatoken=latest', async () => {
    const latest = await fx.graph('/users/delta?$deltatoken=latest');
    expect(latest.body.value).toEqual([]);
    const id = await createUser('after.latest');
    const changes = await round(path(latest.body['@odata.deltaLink'] as string));
    expect(changes.items.map((i) => i.id)).toEqual([id]);
  });

  it('answers a token older than seven days with 410 syncStateNotFound and a Location to resync', async () => {
    const latest = await fx.graph('/users/delta?$deltatoken=latest');
    clock.advance(7 * 24 * 3600 * 1000 + 1000);
    const res = await fx.graph(path(latest.body['@odata.deltaLink'] as string));
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('syncStateNotFound');
    expect(res.headers.location).toBe(`${fx.sandbox.url}/v1.0/users/delta`);
  });

  it('pages a large tenant with @odata.nextLink', async () => {
    fx.sandbox.control.seedUsers('fabrikam', 450);
    const fabrikam = { authorization: `Bearer ${fx.tokenFor('admin@fabrikam.com', 'fabrikam.com')}` };
    let next: string | undefined = '/users/delta?$select=id';
    let pages = 0;
    let count = 0;
    while (next) {
      const res = await fx.graph(next, { headers: fabrikam });
      count += res.body.value.length as number;
      pages += 1;
      next = res.body['@odata.nextLink'] ? path(res.body['@odata.nextLink'] as string) : undefined;
    }
    expect(count).toBe(454);
    expect(pages).toBeGreaterThan(1);
  });
});

describe('groups, members/$ref and groups/delta', () => {
  it('adds and removes members, with the documented errors, and delta reports members@delta', async () => {
    const created = await fx.graph('/groups', { body: { displayName: 'Bound Group', mailEnabled: false, mailNickname: 'boundgroup', securityEnabled: true } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ displayName: 'Bound Group', mailEnabled: false, securityEnabled: true, groupTypes: [] });
    const groupId = created.body.id as string;
    const initial = await round('/groups/delta');
    const inInitial = initial.items.find((g) => g.id === groupId);
    expect(inInitial).toBeDefined();
    expect(inInitial).not.toHaveProperty('members@delta'); // no members, no annotation (delta-query-groups.md)

    const a = await createUser('member.a');
    const b = await createUser('member.b');
    const ref = (id: string) => ({ '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });
    expect((await fx.graph(`/groups/${groupId}/members/$ref`, { body: ref(a) })).status).toBe(204);
    expect((await fx.graph(`/groups/${groupId}/members/$ref`, { body: ref(b) })).status).toBe(204);
    const dup = await fx.graph(`/groups/${groupId}/members/$ref`, { body: ref(a) });
    expect(dup.status).toBe(400);
    expect(dup.body.error).toMatchObject({ code: 'Request_BadRequest', message: "One or more added object references already exist for the following modified properties: 'members'." });

    const members = await fx.graph(`/groups/${groupId}/members?$select=id,userPrincipalName`);
    expect(members.body.value).toEqual([
      { '@odata.type': '#microsoft.graph.user', id: a, userPrincipalName: 'member.a@contoso.com' },
      { '@odata.type': '#microsoft.graph.user', id: b, userPrincipalName: 'member.b@contoso.com' },
    ]);
    const afterAdd = await round(initial.deltaLink);
    expect(afterAdd.items.find((g) => g.id === groupId)?.['members@delta']).toEqual([
      { '@odata.type': '#microsoft.graph.user', id: a },
      { '@odata.type': '#microsoft.graph.user', id: b },
    ]);

    expect((await fx.graph(`/groups/${groupId}/members/${a}/$ref`, { method: 'DELETE' })).status).toBe(204);
    expect((await fx.graph(`/groups/${groupId}/members/${a}/$ref`, { method: 'DELETE' })).status).toBe(404);
    const afterRemove = await round(afterAdd.deltaLink);
    expect(afterRemove.items).toEqual([expect.objectContaining({ id: groupId, 'members@delta': [{ '@odata.type': '#microsoft.graph.user', id: a, '@removed': { reason: 'deleted' } }] })]);
  });

  it('refuses mail-enabled security groups as Graph does', async () => {
    const res = await fx.graph('/groups', { body: { displayName: 'Mail', mailEnabled: true, mailNickname: 'mail', securityEnabled: true } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('does not currently support writes of mail-enabled groups');
  });
});

describe('$batch', () => {
  const get = (id: number) => ({ id: String(id), method: 'GET', url: '/users/admin@contoso.com?$select=id' });

  it('refuses a batch of 21 requests', async () => {
    const res = await fx.graph('/$batch', { body: { requests: Array.from({ length: 21 }, (_, i) => get(i + 1)) } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('BadRequest');
  });

  it('answers each of 20 requests on its own', async () => {
    const requests = [
      ...Array.from({ length: 18 }, (_, i) => get(i + 1)),
      { id: '19', method: 'GET', url: '/users/nobody@contoso.com' },
      { id: '20', method: 'POST', url: '/users', headers: { 'Content-Type': 'application/json' }, body: { accountEnabled: true, displayName: 'Batched', mailNickname: 'batched', userPrincipalName: 'batched@contoso.com', passwordProfile: { password: strongPassword } } },
    ];
    const res = await fx.graph('/$batch', { body: { requests } });
    expect(res.status).toBe(200);
    const byId = new Map((res.body.responses as { id: string; status: number; headers: Record<string, string>; body?: Record<string, unknown> }[]).map((r) => [r.id, r]));
    expect(byId.size).toBe(20);
    expect(byId.get('1')).toMatchObject({ status: 200, headers: { 'x-ms-resource-unit': '1' }, body: { id: expect.any(String) } });
    expect(byId.get('19')).toMatchObject({ status: 404, body: { error: { code: 'Request_ResourceNotFound' } } });
    expect(byId.get('20')).toMatchObject({ status: 201, body: { userPrincipalName: 'batched@contoso.com' } });
  });

  it('fails a request whose dependency failed with 424', async () => {
    const res = await fx.graph('/$batch', {
      body: {
        requests: [
          { id: '1', method: 'GET', url: '/users/nobody@contoso.com' },
          { id: '2', dependsOn: ['1'], method: 'GET', url: '/users/admin@contoso.com' },
        ],
      },
    });
    expect(res.body.responses.map((r: { status: number }) => r.status)).toEqual([404, 424]);
  });
});
