import { mapConcurrently } from '../../src/domain/reconcile/map-concurrently';
import { startTestHost, type TestHost } from '../support/test-host';
import { connectTenant, contoso, eventually, json, reconcileNow, SandboxClient, type Json } from './provisioning-support';

/** The Graph writes among the sandbox's requests since `since`. */
async function writesSince(sandbox: SandboxClient, since: number): Promise<{ method: string; path: string }[]> {
  return (await sandbox.requestsSince(since)).filter((r) => r.write);
}

/** The account id a `PATCH /v1.0/users/{id}` names. */
function patchedAccount(request: { method: string; path: string }): string | undefined {
  const match = /^\/v1\.0\/users\/([0-9a-f-]{36})$/i.exec(request.path.split('?')[0] as string);
  return request.method === 'PATCH' ? match?.[1]?.toLowerCase() : undefined;
}

async function createUsers(host: TestHost, emails: readonly string[], fields: (i: number) => Record<string, unknown>): Promise<Json[]> {
  return mapConcurrently(emails.map((email, i) => ({ email, i })), 8, async ({ email, i }) => {
    const created = await host.api('users', { method: 'POST', json: { email, firstName: 'Staff', lastName: `Member ${i}`, ...fields(i) } });
    if (created.status !== 201) throw new Error(`creating ${email} answered ${created.status}: ${await created.text()}`);
    return json(created);
  });
}

async function groupOf(host: TestHost, name: string, users: readonly Json[]): Promise<string> {
  const group = await json(await host.api('groups', { method: 'POST', json: { name } }));
  await mapConcurrently(users, 8, async (user: Json) => {
    const added = await host.api(`groups/${group.id as string}/members/${user.id as string}`, { method: 'PUT' });
    if (added.status !== 204) throw new Error(`adding a member answered ${added.status}`);
  });
  return group.id as string;
}

describe('mass-change guard: a change to more accounts than the guard allows waits for an admin, and confirming makes exactly the planned writes', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connectionId: string;
  let staff: Json[];
  const path = (below = '') => `connections/${connectionId}${below}`;

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    // Drift is left to the reconcile run (no change notifications), so the test controls when corrections are nudged.
    connectionId = (await connectTenant(host, { domains: ['contoso.com'], settings: { changeGuard: { maxUsers: 10, maxPercent: 10 }, changeNotifications: false } })).id as string;
    // 36 staff with a department, bound: their accounts are created without one (no export rule yet).
    staff = await createUsers(host, Array.from({ length: 36 }, (_, i) => `guarded.staff${i}@contoso.com`), (i) => ({ department: `Sales ${i % 4}` }));
    await mapConcurrently(staff, 8, async (user: Json) => expect((await host.api(path(`/users/${user.id as string}`), { method: 'PUT' })).status).toBe(202));
    await eventually(async () => {
      const bindings = await json(await host.api(path('/users?state=provisioned&limit=100')));
      return (bindings.items as Json[]).length === 36 ? true : undefined;
    }, 30_000, '36 provisioned bindings');
  }, 60_000);

  afterAll(async () => {
    await host.close();
  });

  it('answers a settings change touching 36 accounts with its plan and changes nothing; confirming it makes exactly the planned writes', async () => {
    const since = await sandbox.lastRequestSeq();
    const change = { settings: { exportAttributes: ['department'] } };
    const refused = await host.api(path(), { method: 'PATCH', json: change });
    expect(refused.status).toBe(409);
    const answer = await json(refused);
    expect(answer.error.code).toBe('CONFLICT');
    expect(answer.error.message).toMatch(/36 existing accounts.*\(10\).*confirmPlan=/);
    expect(answer.plan).toMatchObject({ kind: 'settings', request: change, guard: { changing: 36, limit: 10, exceeded: true }, totals: { users: 36, update: 36, create: 0 } });
    const planId = answer.plan.id as string;
    expect((await json(await host.api(path()))).settings.exportAttributes).toEqual([]);
    expect(await writesSince(sandbox, since)).toEqual([]);

    // The plan is stored: every account, old -> new.
    const stored = await json(await host.api(path(`/plans/${planId}`)));
    expect(stored).toMatchObject({ id: planId, guard: { changing: 36 }, expiresAt: expect.any(String) });
    expect(stored.nextCursor).toBeUndefined();
    const planned = new Map<string, Json>((stored.accounts as Json[]).map((a) => [String(a.m365UserId).toLowerCase(), a]));
    expect(planned.size).toBe(36);
    for (const account of planned.values()) expect(account).toMatchObject({ action: 'update', changes: [{ attribute: 'department', from: null, to: expect.stringMatching(/^Sales \d$/) }] });

    // The id confirms only the change it was made for.
    const other = await host.api(path(`?confirmPlan=${planId}`), { method: 'PATCH', json: { settings: { exportAttributes: ['department', 'jobTitle'] } } });
    expect(other.status).toBe(409);
    expect((await json(other)).error.details[0].field).toBe('query.confirmPlan');

    const confirmedAt = await sandbox.lastRequestSeq();
    const confirmed = await host.api(path(`?confirmPlan=${planId}`), { method: 'PATCH', json: change });
    expect(confirmed.status).toBe(200);
    expect((await json(confirmed)).settings.exportAttributes).toEqual(['department']);
    const writes = await eventually(async () => {
      const made = await writesSince(sandbox, confirmedAt);
      return made.length >= 36 ? made : undefined;
    }, 20_000, 'the 36 planned writes');
    // Anything more the worker would write shows up in this pause.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const all = await writesSince(sandbox, confirmedAt);
    expect(all).toHaveLength(36);
    const patched = all.map(patchedAccount);
    expect(new Set(patched).size).toBe(36);
    expect([...patched].sort()).toEqual([...planned.keys()].sort());
    expect(writes.every((w) => w.method === 'PATCH')).toBe(true);
    // ...and each account holds what the plan said it would.
    for (const account of (stored.accounts as Json[]).slice(0, 6)) {
      expect((await sandbox.user(account.userPrincipalName as string)).department).toBe(account.changes[0].to);
    }

    // The reconcile that follows the mapping change finds nothing left to write.
    const afterwards = await sandbox.lastRequestSeq();
    expect(await reconcileNow(host, connectionId)).toMatchObject({ outcome: 'completed', users: { round: 'full', drifted: 0 } });
    expect(await writesSince(sandbox, afterwards)).toEqual([]);
    // A plan made against the connection as it was before cannot be confirmed again.
    const again = await host.api(path(`?confirmPlan=${planId}`), { method: 'PATCH', json: change });
    expect(again.status).toBe(409);
    expect((await json(again)).error.message).toMatch(/changed after plan/);
  }, 60_000);

  it('holds a reconcile that would rewrite 36 accounts, lists the held writes, and confirming writes exactly those', async () => {
    // Someone changes the department of every staff account in the portal.
    const accounts = await mapConcurrently(staff, 8, async (user: Json) => sandbox.user(user.email as string));
    await mapConcurrently(accounts, 8, async (account: Json) => {
      expect((await sandbox.graph(`/users/${account.id as string}`, { method: 'PATCH', body: { department: 'Portal edit' } })).status).toBe(204);
    });
    const since = await sandbox.lastRequestSeq();
    expect(await reconcileNow(host, connectionId)).toMatchObject({ users: { drifted: 36, nudged: 36 } });
    const paused = await eventually(async () => {
      const connection = await json(await host.api(path()));
      return connection.status === 'sync_paused' && connection.deactivationHold?.count === 36 ? connection : undefined;
    }, 20_000, 'the connection to pause with 36 held writes');
    expect(paused.deactivationHold.count).toBe(36);
    const held = await json(await host.api(path('/deactivations?limit=100')));
    expect(held).toMatchObject({ status: 'sync_paused', count: 36 });
    for (const item of held.items as Json[]) expect(item).toMatchObject({ change: 'update', attributes: ['department'] });
    expect(await writesSince(sandbox, since)).toEqual([]);

    const confirmedAt = await sandbox.lastRequestSeq();
    expect(await json(await host.api(path('/deactivations/confirm'), { method: 'POST' }))).toEqual({ status: 'active', released: 36 });
    await eventually(async () => ((await writesSince(sandbox, confirmedAt)).length >= 36 ? true : undefined), 20_000, 'the 36 held writes');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const patched = (await writesSince(sandbox, confirmedAt)).map(patchedAccount);
    expect(patched.sort()).toEqual((held.items as Json[]).map((i) => String(i.m365UserId).toLowerCase()).sort());
    expect((await sandbox.user(staff[5].email as string)).department).toBe('Sales 1');
  }, 60_000);

  it('does not count an edit of each user in the directory: 36 department edits all land, and the connection stays active', async () => {
    const since = await sandbox.lastRequestSeq();
    await mapConcurrently(staff, 8, async (user: Json) => {
      expect((await host.api(`users/${user.id as string}`, { method: 'PATCH', json: { department: `Edited ${user.email as string}` } })).status).toBe(200);
    });
    const accountIds = (await mapConcurrently(staff, 8, async (user: Json) => sandbox.user(user.email as string))).map((account) => String(account.id).toLowerCase());
    await eventually(async () => {
      const patched = new Set((await writesSince(sandbox, since)).map(patchedAccount));
      return accountIds.every((id) => patched.has(id)) ? true : undefined;
    }, 30_000, 'the 36 edits to reach Microsoft 365');
    expect(await json(await host.api(path()))).toMatchObject({ status: 'active' });
    expect((await sandbox.user(staff[7].email as string)).department).toBe(`Edited ${staff[7].email as string}`);
  }, 60_000);

  it('plans a group bind of 500 users as 500 creates or take-overs without one Graph write, at once or in the background', async () => {
    // Half of them have an account in the tenant already.
    const seeded = await sandbox.control(`tenants/${contoso.id}/users:seed`, { method: 'POST', body: { count: 250, prefix: 'planned.bind' } });
    expect(seeded.body).toEqual({ added: 250 });
    const existing: string[] = [];
    let next: string | undefined = `/users?$select=userPrincipalName&$top=999`;
    while (next !== undefined) {
      const page = await sandbox.graph(next);
      existing.push(...(page.body.value as Json[]).map((u) => u.userPrincipalName as string).filter((upn) => upn.startsWith('planned.bind')));
      next = (page.body['@odata.nextLink'] as string | undefined)?.replace(/^.*\/v1\.0/, '');
    }
    expect(existing).toHaveLength(250);
    const emails = [...existing, ...Array.from({ length: 250 }, (_, i) => `planned.new${i}@contoso.com`)];
    const users = await createUsers(host, emails, () => ({}));
    const groupId = await groupOf(host, 'Planned bind', users);

    const since = await sandbox.lastRequestSeq();
    const planned = await host.api(path('/plan'), { method: 'POST', json: { bind: { groupIds: [groupId] } } });
    expect(planned.status).toBe(200);
    const plan = await json(planned);
    expect(plan.totals).toMatchObject({ users: 500, create: 250, takeOver: 250 });
    expect((plan.accounts as Json[]).filter((a) => a.action === 'create' || a.action === 'take_over')).toHaveLength(500);
    expect(plan.guard).toMatchObject({ changing: 250, exceeded: true });
    // Stored too, in pages.
    const first = await json(await host.api(path(`/plans/${plan.id as string}`)));
    const second = await json(await host.api(path(`/plans/${plan.id as string}?cursor=${first.nextCursor as string}`)));
    expect([...first.accounts, ...second.accounts].map((a: Json) => a.userId).sort()).toEqual((plan.accounts as Json[]).map((a) => a.userId).sort());
    expect(second.nextCursor).toBeUndefined();

    // The same plan made in the background: 202 with the job, then the plan once made.
    const queued = await host.api(path('/plans'), { method: 'POST', json: { bind: { groupIds: [groupId] } } });
    expect(queued.status).toBe(202);
    const job = await json(queued);
    expect(job).toMatchObject({ status: 'running', request: { bind: { groupIds: [groupId] } } });
    expect(queued.headers.get('location')).toBe(`/api/${path(`/plans/${job.id as string}`)}`);
    const made = await eventually(async () => {
      const answer = await host.api(path(`/plans/${job.id as string}`));
      return answer.status === 200 ? json(answer) : undefined;
    }, 20_000, 'the background plan to be made');
    expect(made).toMatchObject({ id: job.id, totals: plan.totals, guard: plan.guard });
    expect(await writesSince(sandbox, since)).toEqual([]);
  }, 60_000);
});
