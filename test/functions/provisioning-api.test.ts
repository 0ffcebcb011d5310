import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, bindingOf, connectTenant, createUser, eventually, events, json, SandboxClient, type Json } from './provisioning-support';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describe('provisioning over the admin API, against the sandbox tenant', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connection: Json;
  let seq = 0;

  const newUser = (fields: Record<string, unknown> = {}) => {
    seq += 1;
    return createUser(host, { email: `employee${seq}@contoso.com`, firstName: 'Employee', lastName: `Number${seq}`, ...fields });
  };

  const bind = async (userId: string) => host.api(`connections/${connection.id as string}/users/${userId}`, { method: 'PUT' });

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connection = await connectTenant(host, { domains: ['contoso.com'], settings: { exportAttributes: ['jobTitle', 'department'], usageLocation: 'GB' } });
  });

  afterAll(async () => {
    await host.close();
  });

  it('binding provisions the account within seconds, with the mapped attributes', async () => {
    const user = await newUser({ firstName: 'Ada', lastName: 'Lovelace', jobTitle: 'Analyst', department: 'Research' });
    const answer = await bind(user.id as string);
    expect(answer.status).toBe(202);
    expect(await json(answer)).toMatchObject({ connectionId: connection.id, userId: user.id, state: 'pending', bound: true });

    const binding = await bindingIn(host, connection.id as string, user.id as string, 'provisioned', 5_000);
    const account = await sandbox.user(user.email as string);
    expect(account).toMatchObject({ id: binding.m365UserId, givenName: 'Ada', surname: 'Lovelace', displayName: 'Ada Lovelace', mailNickname: `employee${seq}`, accountEnabled: true, jobTitle: 'Analyst', department: 'Research', usageLocation: 'GB' });
    expect(binding).toMatchObject({ attempts: 0, lastSyncedAt: expect.any(String) });
    expect(await events(host, { userId: user.id as string })).toEqual([expect.objectContaining({ type: 'user_create_provision', connectionId: connection.id, m365UserId: binding.m365UserId })]);

    const outbox = readdirSync(path.join(host.dataDir, 'outbox'));
    const notice = outbox.map((f) => readFileSync(path.join(host.dataDir, 'outbox', f), 'utf8')).find((text) => text.includes(`<${user.email as string}>`));
    expect(notice).toMatch(/^From: .*\r\nTo: .*\r\nSubject: Your Microsoft 365 account/);
  });

  it('a jobTitle change updates the account and records exactly one update event', async () => {
    const user = await newUser({ jobTitle: 'Engineer' });
    await bind(user.id as string);
    await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    const patched = await host.api(`users/${user.id as string}`, { method: 'PATCH', json: { jobTitle: 'Staff Engineer' } });
    expect(patched.status).toBe(200);
    const updates = await eventually(async () => {
      const found = await events(host, { userId: user.id as string, type: 'user_update_provision' });
      return found.length > 0 ? found : undefined;
    });
    expect((await sandbox.user(user.email as string)).jobTitle).toBe('Staff Engineer');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await events(host, { userId: user.id as string, type: 'user_update_provision' })).toHaveLength(1);
    expect(updates[0].changedAttributes).toEqual(['jobTitle']);
  });

  it('a new password reaches the account once, and its plaintext is nowhere under DATA_DIR or in the logs', async () => {
    const user = await newUser();
    await bind(user.id as string);
    const binding = await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    const before = await sandbox.lastRequestSeq();
    const password = 'Plaintext-Canary-7f3a9!';
    expect((await host.api(`users/${user.id as string}/password`, { method: 'PUT', json: { password } })).status).toBe(204);
    await eventually(async () => ((await events(host, { userId: user.id as string, type: 'user_password_update_provision' })).length === 1 ? true : undefined));
    const patches = (await sandbox.requestsSince(before)).filter((r) => r.method === 'PATCH' && r.path.startsWith(`/v1.0/users/${binding.m365UserId as string}`) && r.status === 204);
    expect(patches).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await events(host, { userId: user.id as string, type: 'user_password_update_provision' })).toHaveLength(1);
    for (const file of filesUnder(host.dataDir)) expect(readFileSync(file).includes(password)).toBe(false);
    expect(host.logText()).not.toContain(password);
  });

  it('suspending disables the account with a deprovision event; activating enables it again', async () => {
    const user = await newUser();
    await bind(user.id as string);
    await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    expect((await host.api(`users/${user.id as string}/suspend`, { method: 'POST' })).status).toBe(200);
    await bindingIn(host, connection.id as string, user.id as string, 'deprovisioned');
    expect((await sandbox.user(user.email as string)).accountEnabled).toBe(false);
    expect(await events(host, { userId: user.id as string, type: 'user_deprovision' })).toHaveLength(1);

    expect((await host.api(`users/${user.id as string}/activate`, { method: 'POST' })).status).toBe(200);
    await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    expect((await sandbox.user(user.email as string)).accountEnabled).toBe(true);
  });

  it('unbinding disables the account with a deprovision event', async () => {
    const user = await newUser();
    await bind(user.id as string);
    await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    const answer = await host.api(`connections/${connection.id as string}/users/${user.id as string}`, { method: 'DELETE' });
    expect(answer.status).toBe(202);
    expect(await json(answer)).toMatchObject({ bound: false });
    await bindingIn(host, connection.id as string, user.id as string, 'deprovisioned');
    expect((await sandbox.user(user.email as string)).accountEnabled).toBe(false);
    expect(await events(host, { userId: user.id as string, type: 'user_deprovision' })).toHaveLength(1);
  });

  it('a new member of a bound group is provisioned; one who leaves it is unbound', async () => {
    const group = await json(await host.api('groups', { method: 'POST', json: { name: 'Provisioned staff' } }));
    const existing = await newUser();
    expect((await host.api(`groups/${group.id as string}/members/${existing.id as string}`, { method: 'PUT' })).status).toBe(204);
    const bound = await host.api(`connections/${connection.id as string}/groups/${group.id as string}`, { method: 'PUT' });
    expect(bound.status).toBe(202);
    await bindingIn(host, connection.id as string, existing.id as string, 'provisioned');

    const joiner = await newUser();
    expect((await host.api(`groups/${group.id as string}/members/${joiner.id as string}`, { method: 'PUT' })).status).toBe(204);
    const binding = await bindingIn(host, connection.id as string, joiner.id as string, 'provisioned');
    expect(binding.via).toEqual({ direct: false, groups: [group.id] });
    expect((await sandbox.user(joiner.email as string)).accountEnabled).toBe(true);

    expect((await host.api(`groups/${group.id as string}/members/${joiner.id as string}`, { method: 'DELETE' })).status).toBe(204);
    await bindingIn(host, connection.id as string, joiner.id as string, 'deprovisioned');
    expect((await sandbox.user(joiner.email as string)).accountEnabled).toBe(false);
    const groups = await json(await host.api(`connections/${connection.id as string}/groups`));
    expect(groups.items).toEqual([expect.objectContaining({ groupId: group.id, expansion: 'bound', boundMembers: 1 })]);
  });

  it('refuses to bind a user whose domain the connection does not claim (422), or an unknown user (404)', async () => {
    const outsider = await createUser(host, { email: `outsider${Date.now()}@example.net` });
    const refused = await bind(outsider.id as string);
    expect(refused.status).toBe(422);
    expect((await json(refused)).error.message).toContain('example.net');
    expect((await bind('no-such-user')).status).toBe(404);
  });

  it('refuses an email change of a bound user to a domain of no connection (409), keeping the account', async () => {
    const user = await newUser();
    await bind(user.id as string);
    const binding = await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    const refused = await host.api(`users/${user.id as string}`, { method: 'PATCH', json: { email: `moved${seq}@elsewhere.example` } });
    expect(refused.status).toBe(409);
    expect((await json(refused)).error.message).toContain('elsewhere.example');
    expect((await bindingOf(host, connection.id as string, user.id as string)).m365UserId).toBe(binding.m365UserId);
  });

  it('names the user of each binding and event as the directory holds them now; a user deleted from it keeps only the id', async () => {
    const kept = await newUser({ firstName: 'Grace', lastName: 'Hopper' });
    const gone = await newUser();
    for (const user of [kept, gone]) {
      expect((await bind(user.id as string)).status).toBe(202);
      await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    }
    expect((await host.api(`users/${kept.id as string}`, { method: 'PATCH', json: { displayName: 'Rear Admiral Hopper' } })).status).toBe(200);
    expect((await host.api(`users/${gone.id as string}`, { method: 'DELETE' })).status).toBe(204);
    await bindingIn(host, connection.id as string, gone.id as string, 'deprovisioned');
    const named = { email: kept.email, displayName: 'Rear Admiral Hopper' };

    const listed = await host.api(`connections/${connection.id as string}/users?limit=500`);
    expect(listed.status).toBe(200);
    const items = (await json(listed)).items as Json[];
    expect(items.find((b) => b.userId === kept.id)).toMatchObject({ user: named });
    expect(items.find((b) => b.userId === gone.id)).not.toHaveProperty('user');
    // The other users of the page are named too (one read per user, not a partial page).
    expect(items.filter((b) => b.user === undefined).map((b) => b.userId)).toEqual([gone.id]);
    expect(await bindingOf(host, connection.id as string, kept.id as string)).toMatchObject({ user: named });
    expect(await bindingOf(host, connection.id as string, gone.id as string)).not.toHaveProperty('user');

    const keptEvents = await events(host, { userId: kept.id as string });
    expect(keptEvents.length).toBeGreaterThan(0);
    expect(keptEvents.map((e) => e.user)).toEqual(keptEvents.map(() => named));
    const goneEvents = await events(host, { userId: gone.id as string });
    expect(goneEvents.length).toBeGreaterThan(0);
    expect(goneEvents.filter((e) => 'user' in e)).toEqual([]);
  });

  it('lists events newest first with cursor paging and filters', async () => {
    const first = await json(await host.api(`events?connectionId=${connection.id as string}&limit=2`));
    expect(first.items).toHaveLength(2);
    expect(first.items[0].at >= first.items[1].at).toBe(true);
    const second = await json(await host.api(`events?connectionId=${connection.id as string}&limit=2&cursor=${encodeURIComponent(first.nextCursor as string)}`));
    expect(second.items[0].id).not.toBe(first.items[1].id);
    expect(second.items[0].at <= first.items[1].at).toBe(true);
    const creates = await events(host, { type: 'user_create_provision', since: '2000-01-01' });
    expect(creates.length).toBeGreaterThan(3);
    expect(creates.every((e) => e.type === 'user_create_provision')).toBe(true);
    expect(await events(host, { type: 'user_create_provision', until: '2000-01-01' })).toEqual([]);
    expect((await host.api('events?type=nonsense')).status).toBe(400);
  });

  it('de-authorizing makes no Graph write and leaves the accounts enabled', async () => {
    const user = await newUser();
    await bind(user.id as string);
    await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    // What de-authorizing removes, counted beforehand (the console's confirmation says it).
    const counts = await json(await host.api(`connections/${connection.id as string}/binding-counts`));
    expect(counts.users.provisioned).toBeGreaterThan(0);
    expect(counts.users.total).toBe(counts.users.pending + counts.users.provisioned + counts.users.error + counts.users.deprovisioned);
    const before = await sandbox.lastRequestSeq();
    const answer = await host.api(`connections/${connection.id as string}/authorization`, { method: 'DELETE' });
    expect(answer.status).toBe(200);
    expect((await json(answer)).unboundUsers).toBeGreaterThan(0);
    expect(await json(await host.api(`connections/${connection.id as string}/binding-counts`))).toEqual({ users: { total: 0, pending: 0, provisioned: 0, error: 0, deprovisioned: 0 }, groups: 0 });
    expect((await host.api('connections/nope/binding-counts')).status).toBe(404);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await sandbox.requestsSince(before)).filter((r) => r.write)).toEqual([]);
    expect((await sandbox.user(user.email as string)).accountEnabled).toBe(true);
    expect((await bind(user.id as string)).status).toBe(409);
  });
});
