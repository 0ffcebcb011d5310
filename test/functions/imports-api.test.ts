import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, bindingOf, connectTenant, contoso, createUser, eventually, events, finishedJob, json, SandboxClient, startImport, type Json } from './provisioning-support';

/** Every page of the preview with these filters, following cursors. */
async function previewAll(host: TestHost, connectionId: string, filters: Record<string, string> = {}, limit = 500): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const params = new URLSearchParams({ ...filters, limit: String(limit), ...(cursor === undefined ? {} : { cursor }) });
    const answer = await host.api(`connections/${connectionId}/m365/users?${params.toString()}`);
    if (answer.status !== 200) throw new Error(`the preview answered ${answer.status}: ${await answer.text()}`);
    const page = await json(answer);
    items.push(...(page.items as Json[]));
    cursor = page.nextCursor as string | undefined;
  } while (cursor !== undefined);
  return items;
}

async function directoryUserByEmail(host: TestHost, email: string): Promise<Json> {
  const page = await json(await host.api(`users?email=${encodeURIComponent(email)}`));
  return (page.items as Json[])[0];
}

describe('import from Microsoft 365 over the admin API, against the sandbox tenant', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connectionId: string;
  let tenant: Json[];
  const byUpn = (upn: string): Json => {
    const found = tenant.find((u) => u.userPrincipalName === upn);
    if (found === undefined) throw new Error(`no ${upn} in the tenant`);
    return found;
  };

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    // An account whose UPN is in mixed case, so the conflict check must ignore case on both sides.
    const created = await sandbox.graph('/users', {
      method: 'POST',
      body: { accountEnabled: true, displayName: 'Quinn Mixed', givenName: 'Quinn', surname: 'Mixed', mailNickname: 'quinn.mixed', userPrincipalName: 'Quinn.Mixed@contoso.com', passwordProfile: { password: 'Initial-Passw0rd!x', forceChangePasswordNextSignIn: false } },
    });
    if (created.status !== 201) throw new Error(`creating the mixed-case account answered ${created.status}: ${created.text}`);
    connectionId = (await connectTenant(host, { domains: ['contoso.com'] })).id as string;
    tenant = await previewAll(host, connectionId);
  }, 30_000);

  afterAll(async () => {
    await host.close();
  });

  it('lists every account of the tenant once, with Graph pages read with $select and $top=999', async () => {
    const since = await sandbox.lastRequestSeq();
    const paged = await previewAll(host, connectionId, {}, 7);
    expect(paged.map((u) => u.id)).toEqual(tenant.map((u) => u.id));
    expect(new Set(paged.map((u) => u.id)).size).toBe(paged.length);
    expect(tenant.length).toBeGreaterThan(30);
    const lists = (await sandbox.requestsSince(since)).filter((r) => r.method === 'GET' && r.path.startsWith('/v1.0/users?'));
    // One tenant page, read fresh for the listing and then served from the page cache to the cursors.
    expect(lists).toHaveLength(1);
    expect(decodeURIComponent(lists[0]?.path ?? '')).toContain('$top=999');
    expect(decodeURIComponent(lists[0]?.path ?? '')).toContain('$select=id,');
  });

  it('shows new, conflict (same email in another case) and imported users', async () => {
    const conflicting = await createUser(host, { email: 'QUINN.MIXED@CONTOSO.COM', firstName: 'Directory', lastName: 'Quinn' });
    const jobId = await startImport(host, connectionId, { m365UserIds: [byUpn('avery.archer@contoso.com').id] });
    await finishedJob(host, jobId);

    const preview = await previewAll(host, connectionId);
    const status = (upn: string) => preview.find((u) => u.userPrincipalName === upn);
    expect(status('Quinn.Mixed@contoso.com')).toMatchObject({ status: 'conflict', userId: conflicting.id, email: 'quinn.mixed@contoso.com' });
    const imported = await directoryUserByEmail(host, 'avery.archer@contoso.com');
    expect(status('avery.archer@contoso.com')).toMatchObject({ status: 'imported', userId: imported.id });
    expect(status('blake.archer@contoso.com')).toMatchObject({ status: 'new', accountEnabled: true, givenName: 'Blake', surname: 'Archer' });
    expect(status('blake.archer@contoso.com')?.userId).toBeUndefined();
  });

  it('shows other_connection for an account whose email belongs to a user bound to another connection, and does not import it', async () => {
    const created = await sandbox.graph('/users', {
      method: 'POST',
      body: { accountEnabled: true, displayName: 'Sam Shared', mailNickname: 'sam.shared', userPrincipalName: 'sam.shared@contoso.com', mail: 'Sam.Shared@fabrikam.com', passwordProfile: { password: 'Initial-Passw0rd!x', forceChangePasswordNextSignIn: false } },
    });
    expect(created.status).toBe(201);
    const fabrikam = await connectTenant(host, { name: 'Fabrikam', adminUpn: 'admin@fabrikam.com', domains: ['fabrikam.com'] });
    const sam = await createUser(host, { email: 'sam.shared@fabrikam.com', firstName: 'Sam', lastName: 'Shared' });
    expect((await host.api(`connections/${fabrikam.id as string}/users/${sam.id as string}`, { method: 'PUT' })).status).toBe(202);

    const preview = await previewAll(host, connectionId, { q: 'sam.shared' });
    expect(preview).toEqual([expect.objectContaining({ id: created.body.id, email: 'sam.shared@fabrikam.com', status: 'other_connection', userId: sam.id, boundConnectionId: fabrikam.id })]);
    expect(await previewAll(host, connectionId, { status: 'other_connection' })).toEqual(preview);

    const job = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [created.body.id] }));
    expect(job).toMatchObject({ status: 'completed', failed: 1 });
    expect((job.results as Json[])[0].reason).toBe(`an account with the same email already exists and is bound to another connection (${fabrikam.id as string})`);
  });

  it('narrows the list with each filter', async () => {
    const all = await previewAll(host, connectionId);
    const ids = (items: Json[]) => items.map((u) => u.id as string).sort();

    const disabled = await previewAll(host, connectionId, { enabled: 'false' });
    expect(ids(disabled)).toEqual(ids(all.filter((u) => u.accountEnabled === false)));
    expect(disabled.map((u) => u.userPrincipalName)).toContain('former.employee@contoso.com');
    const enabled = await previewAll(host, connectionId, { enabled: 'true' });
    expect(ids(enabled)).toEqual(ids(all.filter((u) => u.accountEnabled === true)));

    const initialDomain = await previewAll(host, connectionId, { domain: contoso.initialDomain });
    expect(initialDomain.map((u) => u.userPrincipalName)).toEqual(['service.account@contoso.onmicrosoft.com']);
    const customDomain = await previewAll(host, connectionId, { domain: 'contoso.com' });
    expect(ids(customDomain)).toEqual(ids(all.filter((u) => (u.email as string).endsWith('@contoso.com'))));
    expect(customDomain.length).toBeGreaterThan(30);

    const text = await previewAll(host, connectionId, { q: "O'BRIEN" });
    expect(text.map((u) => u.userPrincipalName)).toEqual(["o'brien@contoso.com"]);
    const byName = await previewAll(host, connectionId, { q: 'archer' });
    expect(byName.length).toBeGreaterThan(1);
    expect(byName.every((u) => `${u.displayName as string} ${u.userPrincipalName as string}`.toLowerCase().includes('archer'))).toBe(true);

    // The tests before this one left users of every status.
    let listed = 0;
    for (const status of ['new', 'imported', 'conflict', 'other_connection']) {
      const narrowed = await previewAll(host, connectionId, { status }, 3);
      expect(narrowed.length).toBeGreaterThan(0);
      expect(ids(narrowed)).toEqual(ids(all.filter((u) => u.status === status)));
      listed += narrowed.length;
    }
    expect(listed).toBe(all.length);
    const combined = await previewAll(host, connectionId, { status: 'new', q: 'archer', enabled: 'true' });
    expect(ids(combined)).toEqual(ids(all.filter((u) => u.status === 'new' && u.accountEnabled === true && (u.userPrincipalName as string).includes('archer'))));
  });

  it('refuses a cursor of another filter and a tampered one', async () => {
    const first = await json(await host.api(`connections/${connectionId}/m365/users?limit=2`));
    expect(first.nextCursor).toEqual(expect.any(String));
    const replayed = await host.api(`connections/${connectionId}/m365/users?limit=2&status=new&cursor=${encodeURIComponent(first.nextCursor as string)}`);
    expect(replayed.status).toBe(400);
    const payload = JSON.parse(Buffer.from((first.nextCursor as string).split('.')[0] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = Buffer.from(JSON.stringify({ ...payload, p: 'https://attacker.example/v1.0/users?$skiptoken=x' }), 'utf8').toString('base64url');
    const tampered = await host.api(`connections/${connectionId}/m365/users?limit=2&cursor=${forged}`);
    expect(tampered.status).toBe(400);
    expect((await json(tampered)).error.code).toBe('VALIDATION_FAILED');
  });

  it('imports three users, one conflicting: 2 imported and 1 failed with the exact reason; bound, provisioned, no event', async () => {
    const picked = ['casey.archer@contoso.com', 'devon.baker@contoso.com', 'Quinn.Mixed@contoso.com'].map(byUpn);
    const jobId = await startImport(host, connectionId, { m365UserIds: picked.map((u) => u.id) });
    const job = await finishedJob(host, jobId);
    expect(job).toMatchObject({ status: 'completed', total: 3, succeeded: 2, failed: 1, skipped: 0 });
    const results = new Map((job.results as Json[]).map((r) => [r.upn as string, r]));
    expect(results.get('Quinn.Mixed@contoso.com')).toMatchObject({ type: 'user', outcome: 'failed', reason: 'an account with the same email already exists' });

    for (const account of picked.slice(0, 2)) {
      const result = results.get(account.userPrincipalName as string);
      expect(result).toMatchObject({ type: 'user', m365UserId: account.id, outcome: 'imported', userId: expect.any(String) });
      const user = await json(await host.api(`users/${result.userId as string}`));
      expect(user).toMatchObject({ email: account.userPrincipalName, firstName: account.givenName, lastName: account.surname, username: (account.userPrincipalName as string).split('@')[0], state: 'active' });
      const binding = await bindingOf(host, connectionId, result.userId as string);
      expect(binding).toMatchObject({ state: 'provisioned', bound: true, m365UserId: account.id });
      // Mail, UPN and mailNickname agree: nothing to keep apart from what the email maps to.
      expect(binding.keptNames).toBeUndefined();
      expect(await events(host, { userId: result.userId as string })).toEqual([]);
    }
    // Nothing may follow later either: no nudge was sent.
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const result of [...results.values()].filter((r) => r.outcome === 'imported')) {
      expect(await events(host, { userId: result.userId as string })).toEqual([]);
    }
  });

  it('imports a disabled account as a suspended user, and reports the same user as skipped the second time', async () => {
    const former = byUpn('former.employee@contoso.com');
    const first = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [former.id] }));
    expect(first).toMatchObject({ status: 'completed', succeeded: 1 });
    const userId = (first.results as Json[])[0].userId as string;
    expect(await json(await host.api(`users/${userId}`))).toMatchObject({ email: 'former.employee@contoso.com', state: 'suspended' });
    expect(await bindingOf(host, connectionId, userId)).toMatchObject({ state: 'provisioned', m365UserId: former.id });

    const again = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [former.id] }));
    expect(again).toMatchObject({ status: 'completed', total: 1, succeeded: 0, skipped: 1, failed: 0 });
    expect((again.results as Json[])[0]).toMatchObject({ m365UserId: former.id, outcome: 'skipped', userId, reason: 'already imported' });
  });

  it("links the conflicting user under the policy 'link', and the next pass pushes the directory's attributes", async () => {
    const quinn = byUpn('Quinn.Mixed@contoso.com');
    const directoryUser = await directoryUserByEmail(host, 'quinn.mixed@contoso.com');
    const patched = await host.api(`connections/${connectionId}`, { method: 'PATCH', json: { settings: { conflictPolicy: 'link' } } });
    expect(patched.status).toBe(200);
    try {
      const job = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [quinn.id] }));
      expect(job).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
      expect((job.results as Json[])[0]).toMatchObject({ outcome: 'imported', userId: directoryUser.id, linked: true });
      const binding = await bindingIn(host, connectionId, directoryUser.id as string, 'provisioned');
      expect(binding).toMatchObject({ m365UserId: quinn.id, bound: true });
      expect(binding.keptNames).toBeUndefined();
      expect(await sandbox.user('Quinn.Mixed@contoso.com')).toMatchObject({ id: quinn.id, givenName: 'Directory', surname: 'Quinn' });
      expect((await events(host, { userId: directoryUser.id as string })).map((e) => e.type)).not.toContain('user_create_provision');
      const preview = await previewAll(host, connectionId, { q: 'quinn' });
      expect(preview).toEqual([expect.objectContaining({ id: quinn.id, status: 'imported', userId: directoryUser.id })]);
    } finally {
      await host.api(`connections/${connectionId}`, { method: 'PATCH', json: { settings: { conflictPolicy: 'fail' } } });
    }
  });

  it("keeps an imported account's sign-in name when its mail differs from its UPN, through edits and reconciliation, until the email changes", async () => {
    const created = await sandbox.graph('/users', {
      method: 'POST',
      body: { accountEnabled: true, displayName: 'River Stone', givenName: 'River', surname: 'Stone', mailNickname: 'rstone', userPrincipalName: 'river.stone@contoso.com', mail: 'R.Stone@contoso.com', passwordProfile: { password: 'Initial-Passw0rd!x', forceChangePasswordNextSignIn: false } },
    });
    expect(created.status).toBe(201);
    const job = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [created.body.id] }));
    expect(job).toMatchObject({ status: 'completed', succeeded: 1 });
    const userId = (job.results as Json[])[0].userId as string;
    expect(await json(await host.api(`users/${userId}`))).toMatchObject({ email: 'r.stone@contoso.com', username: 'rstone' });
    expect(await bindingOf(host, connectionId, userId)).toMatchObject({ state: 'provisioned', keptNames: { email: 'r.stone@contoso.com', userPrincipalName: 'river.stone@contoso.com', mailNickname: 'rstone' } });

    // A full reconciliation finds nothing to correct: the UPN and mailNickname are the account's own.
    const started = await eventually(async () => {
      const answer = await host.api(`connections/${connectionId}/reconcile`, { method: 'POST' });
      return answer.status === 409 ? undefined : answer;
    }, 3_000, 'a free reconcile lease');
    const { runId } = await json(started);
    await eventually(async () => {
      const status = await json(await host.api(`connections/${connectionId}/reconcile`));
      return status.lastRun?.runId === runId ? status.lastRun : undefined;
    }, 10_000, 'the reconcile run to finish');
    expect(await sandbox.user('river.stone@contoso.com')).toMatchObject({ id: created.body.id, userPrincipalName: 'river.stone@contoso.com', mailNickname: 'rstone' });

    // An edit pushes what changed, not a rename.
    expect((await host.api(`users/${userId}`, { method: 'PATCH', json: { firstName: 'Rivers' } })).status).toBe(200);
    await eventually(async () => ((await sandbox.user('river.stone@contoso.com'))?.givenName === 'Rivers' ? true : undefined), 10_000, 'the edit to reach the account');
    expect(await sandbox.user('river.stone@contoso.com')).toMatchObject({ id: created.body.id, mailNickname: 'rstone', displayName: 'Rivers Stone' });
    expect((await events(host, { userId })).flatMap((e) => e.changedAttributes as string[])).not.toContain('userPrincipalName');

    // Changing the directory email is a rename, as for any bound user.
    expect((await host.api(`users/${userId}`, { method: 'PATCH', json: { email: 'river.rock@contoso.com' } })).status).toBe(200);
    const renamed = await eventually(async () => sandbox.user('river.rock@contoso.com'), 10_000, 'the rename to reach the account');
    expect(renamed).toMatchObject({ id: created.body.id, mailNickname: 'river.rock' });
  });

  it("shows as a conflict an account whose UPN, not its mail, is a directory user's email, and links that user under 'link'", async () => {
    const created = await sandbox.graph('/users', {
      method: 'POST',
      body: { accountEnabled: true, displayName: 'Sky Blue', givenName: 'Sky', surname: 'Blue', mailNickname: 'sblue', userPrincipalName: 'sky.blue@contoso.com', mail: 's.blue@contoso.com', passwordProfile: { password: 'Initial-Passw0rd!x', forceChangePasswordNextSignIn: false } },
    });
    expect(created.status).toBe(201);
    const holder = await createUser(host, { email: 'Sky.Blue@contoso.com', firstName: 'Sky', lastName: 'Directory' });
    expect(await previewAll(host, connectionId, { q: 'sky.blue' })).toEqual([expect.objectContaining({ id: created.body.id, email: 's.blue@contoso.com', status: 'conflict', userId: holder.id })]);

    const failed = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [created.body.id] }));
    expect((failed.results as Json[])[0]).toMatchObject({ outcome: 'failed', reason: 'an account with the same email already exists' });
    expect((await json(await host.api(`users?email=${encodeURIComponent('s.blue@contoso.com')}`))).items).toEqual([]);

    expect((await host.api(`connections/${connectionId}`, { method: 'PATCH', json: { settings: { conflictPolicy: 'link' } } })).status).toBe(200);
    try {
      const linked = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [created.body.id] }));
      expect((linked.results as Json[])[0]).toMatchObject({ outcome: 'imported', userId: holder.id, linked: true });
      await bindingIn(host, connectionId, holder.id as string, 'provisioned');
      expect(await sandbox.user('sky.blue@contoso.com')).toMatchObject({ id: created.body.id, surname: 'Directory' });
    } finally {
      await host.api(`connections/${connectionId}`, { method: 'PATCH', json: { settings: { conflictPolicy: 'fail' } } });
    }
  });

  it('imports every user a filter matches, failing those of a domain the connection does not claim', async () => {
    const expected = await previewAll(host, connectionId, { q: 'harper' });
    const job = await finishedJob(host, await startImport(host, connectionId, { filter: { q: 'harper' } }));
    expect(job).toMatchObject({ status: 'completed', source: 'filter', filter: { q: 'harper' } });
    expect((job.results as Json[]).map((r) => r.m365UserId).sort()).toEqual(expected.map((u) => u.id).sort());
    expect(job.succeeded).toBe(expected.filter((u) => u.status === 'new').length);

    const other = await finishedJob(host, await startImport(host, connectionId, { filter: { domain: contoso.initialDomain } }));
    expect(other).toMatchObject({ status: 'completed', total: 1, failed: 1 });
    expect((other.results as Json[])[0].reason).toBe(`the email domain ${contoso.initialDomain} is not claimed by this connection`);
  });

  it('looks up many ids with one $batch of 15-id filters, and no Graph call per user', async () => {
    const picked = tenant.filter((u) => u.status === 'new' && (u.email as string | undefined)?.endsWith('@contoso.com') === true).slice(0, 20);
    expect(picked).toHaveLength(20);
    const since = await sandbox.lastRequestSeq();
    const job = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: picked.map((u) => u.id) }));
    expect(job).toMatchObject({ status: 'completed', total: 20 });
    expect(job.succeeded + job.skipped).toBe(20);
    const requests = await sandbox.requestsSince(since);
    const batched = (r: { path: string }) => (r as { batched?: boolean }).batched === true;
    expect(requests.filter((r) => !batched(r) && r.path.startsWith('/v1.0/users'))).toEqual([]);
    expect(requests.filter((r) => batched(r) && decodeURIComponent(r.path).startsWith('/v1.0/users?$filter=id in ('))).toHaveLength(2);
    expect(requests.filter((r) => r.path === '/v1.0/$batch')).toHaveLength(1);
  });

  it('imports a security group as a directory group with its members, bound to the connection', async () => {
    const groups = await sandbox.graph(`/groups?$filter=${encodeURIComponent("displayName eq 'Sales'")}&$select=id,displayName`);
    const sales = (groups.body.value as Json[])[0];
    const members = await sandbox.graph(`/groups/${sales.id as string}/members?$select=id,userPrincipalName`);
    const memberIds = (members.body.value as Json[]).map((m) => m.id as string).sort();
    const since = await sandbox.lastRequestSeq();

    const job = await finishedJob(host, await startImport(host, connectionId, { groups: [sales.id] }));
    expect(job).toMatchObject({ status: 'completed', source: 'groups', failed: 0 });
    const groupResult = (job.results as Json[]).find((r) => r.type === 'group');
    expect(groupResult).toMatchObject({ m365GroupId: sales.id, displayName: 'Sales', outcome: 'imported', groupId: expect.any(String) });
    const userResults = (job.results as Json[]).filter((r) => r.type === 'user');
    expect(userResults.map((r) => r.m365UserId).sort()).toEqual(memberIds);
    // A Sales member holding a privileged role (Privileged Role Administrator) and not imported before is not imported through a group.
    const refused = userResults.filter((r) => r.userId === undefined);
    expect(refused).toEqual([expect.objectContaining({ upn: 'finley.foster17@contoso.com', outcome: 'skipped', reason: expect.stringMatching(/privileged directory role is imported only when named by id/) })]);
    const imported = userResults.filter((r) => r.userId !== undefined);

    const groupId = groupResult.groupId as string;
    expect(await json(await host.api(`groups/${groupId}`))).toMatchObject({ name: 'Sales' });
    const directoryMembers = await json(await host.api(`groups/${groupId}/members?limit=500`));
    expect((directoryMembers.items as Json[]).map((u) => u.id).sort()).toEqual(imported.map((r) => r.userId).sort());
    const bound = await eventually(async () => {
      const list = await json(await host.api(`connections/${connectionId}/groups`));
      return (list.items as Json[]).find((g) => g.groupId === groupId && g.expansion === 'bound');
    }, 10_000, 'the group binding');
    expect(bound).toMatchObject({ m365GroupId: sales.id });
    for (const result of imported) expect(await bindingOf(host, connectionId, result.userId as string)).toMatchObject({ m365UserId: result.m365UserId, bound: true });
    // Nothing was created in Microsoft 365 for the group or its members.
    const creates = (await sandbox.requestsSince(since)).filter((r) => r.method === 'POST' && (r.path === '/v1.0/users' || r.path === '/v1.0/groups'));
    expect(creates).toEqual([]);
  });

  it('answers 404 for an unknown job or connection and 400 for a malformed request', async () => {
    expect((await host.api('imports/no-such-job')).status).toBe(404);
    expect((await host.api('connections/no-such-connection/m365/users')).status).toBe(404);
    expect((await host.api(`connections/${connectionId}/imports`, { method: 'POST', json: { m365UserIds: ['not-a-guid'] } })).status).toBe(400);
    expect((await host.api(`connections/${connectionId}/imports`, { method: 'POST', json: { m365UserIds: [], groups: [] } })).status).toBe(400);
  });
});
