import { startTestHost, type TestHost } from '../support/test-host';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost({ sandbox: false });
});
afterAll(() => host.close());

interface Identified {
  id: string;
  [field: string]: unknown;
}

async function post(path: string, json: unknown): Promise<Identified> {
  const response = await host.api(path, { method: 'POST', json });
  expect(response.status).toBe(201);
  return (await response.json()) as Identified;
}

describe('groups over HTTP', () => {
  it('creates, reads, lists, patches and deletes a group; names are unique in any case', async () => {
    const group = await post('groups', { name: 'Engineers', description: 'Builders' });
    expect(group).toMatchObject({ name: 'Engineers', description: 'Builders' });
    expect((await host.api('groups', { method: 'POST', json: { name: 'ENGINEERS' } })).status).toBe(409);
    expect(await (await host.api(`groups/${group.id}`)).json()).toEqual(group);
    const listed = (await (await host.api('groups?name=engineers')).json()) as { items: Identified[] };
    expect(listed.items.map((item) => item.id)).toEqual([group.id]);
    const patched = await host.api(`groups/${group.id}`, { method: 'PATCH', json: { description: null } });
    expect(patched.status).toBe(200);
    expect(await patched.json()).not.toHaveProperty('description');
    expect((await host.api(`groups/${group.id}`, { method: 'PATCH', json: { owner: 'me' } })).status).toBe(400);
    expect((await host.api(`groups/${group.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await host.api(`groups/${group.id}`)).status).toBe(404);
  });

  it('adds and removes members idempotently (204) and lists them in pages', async () => {
    const group = await post('groups', { name: 'Members' });
    const users = [await post('users', { email: 'm1@example.com' }), await post('users', { email: 'm2@example.com' }), await post('users', { email: 'm3@example.com' })];
    for (const user of users) {
      expect((await host.api(`groups/${group.id}/members/${user.id}`, { method: 'PUT' })).status).toBe(204);
      expect((await host.api(`groups/${group.id}/members/${user.id}`, { method: 'PUT' })).status).toBe(204);
    }
    const first = (await (await host.api(`groups/${group.id}/members?limit=2`)).json()) as { items: Identified[]; nextCursor?: string };
    const second = (await (await host.api(`groups/${group.id}/members?limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`)).json()) as { items: Identified[]; nextCursor?: string };
    expect([...first.items, ...second.items].map((user) => user.email).sort()).toEqual(['m1@example.com', 'm2@example.com', 'm3@example.com']);
    expect(second.nextCursor).toBeUndefined();

    expect((await host.api(`groups/${group.id}/members/${users[0]!.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await host.api(`groups/${group.id}/members/${users[0]!.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await host.api(`groups/${group.id}/members/nobody`, { method: 'PUT' })).status).toBe(404);
    expect((await host.api(`groups/nope/members/${users[0]!.id}`, { method: 'PUT' })).status).toBe(404);

    // A user's groups, by name.
    const other = await post('groups', { name: 'Alpha' });
    expect((await host.api(`groups/${other.id}/members/${users[2]!.id}`, { method: 'PUT' })).status).toBe(204);
    const groupsOf = (await (await host.api(`users/${users[2]!.id}/groups`)).json()) as { items: Identified[] };
    expect(groupsOf.items.map((g) => g.name)).toEqual(['Alpha', 'Members']);
    expect((await host.api('users/nobody/groups')).status).toBe(404);

    // Deleting a user takes it out of its groups.
    expect((await host.api(`users/${users[1]!.id}`, { method: 'DELETE' })).status).toBe(204);
    const left = (await (await host.api(`groups/${group.id}/members`)).json()) as { items: Identified[] };
    expect(left.items.map((user) => user.email)).toEqual(['m3@example.com']);
  });
});
