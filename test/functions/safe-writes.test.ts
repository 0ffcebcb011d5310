import { startTestHost, type TestHost } from '../support/test-host';
import { bindingOf, connectTenant, contoso, eventually, finishedJob, json, reconcileNow, SandboxClient, startImport, type Json } from './provisioning-support';

/** The Graph writes among the sandbox's requests since `since`. */
async function writesSince(sandbox: SandboxClient, since: number): Promise<{ method: string; path: string }[]> {
  return (await sandbox.requestsSince(since)).filter((r) => r.write);
}

async function directoryUser(host: TestHost, email: string): Promise<Json> {
  return ((await json(await host.api(`users?email=${encodeURIComponent(email)}`))).items as Json[])[0];
}

describe('import, then turn on export rules: nothing Microsoft 365 holds is blanked', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connectionId: string;

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connectionId = (await connectTenant(host, { domains: ['contoso.com'] })).id as string;
  }, 30_000);

  afterAll(async () => {
    await host.close();
  });

  it('imports every mappable attribute and the manager, and a reconcile after turning on jobTitle and department writes nothing', async () => {
    const job = await finishedJob(host, await startImport(host, connectionId, { filter: {} }));
    // The service account's domain (contoso.onmicrosoft.com) is not claimed by the connection; a
    // filter leaves out the five privileged accounts (the consenting admin among them).
    expect(job).toMatchObject({ status: 'completed', succeeded: 31, skipped: 5, failed: 1 });
    const privileged = (job.results as Json[]).filter((r) => r.outcome === 'skipped');
    const preview = ((await json(await host.api(`connections/${connectionId}/m365/users?limit=100`))).items as Json[]).filter((u) => u.privileged === true || u.consentingAccount === true);
    expect(preview.map((u) => u.id).sort()).toEqual(privileged.map((r) => r.m365UserId).sort());
    expect(preview.find((u) => u.userPrincipalName === contoso.adminUpn)).toMatchObject({ privileged: true, consentingAccount: true });
    // Named by id, they are imported like anyone else: 36 in all.
    const named = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: privileged.map((r) => r.m365UserId) }));
    expect(named).toMatchObject({ status: 'completed', succeeded: 5 });

    const staff = await sandbox.graph(`/users?$filter=${encodeURIComponent("userPrincipalName eq 'blake.archer@contoso.com'")}&$select=id,jobTitle,department,businessPhones,mobilePhone,officeLocation,city,country,employeeId,companyName`);
    const account = (staff.body.value as Json[])[0];
    const user = await directoryUser(host, 'blake.archer@contoso.com');
    const manager = await directoryUser(host, 'avery.archer@contoso.com');
    expect(user).toMatchObject({
      jobTitle: account.jobTitle,
      department: account.department,
      company: account.companyName,
      employeeId: account.employeeId,
      location: account.officeLocation,
      managerId: manager.id,
      addresses: [expect.objectContaining({ type: 'work', locality: account.city, country: account.country })],
    });
    expect(user.phoneNumbers).toContainEqual({ type: 'work', number: account.businessPhones[0] });

    const since = await sandbox.lastRequestSeq();
    const patched = await host.api(`connections/${connectionId}`, { method: 'PATCH', json: { settings: { exportAttributes: ['jobTitle', 'department'] } } });
    expect(patched.status).toBe(200);
    const report = await reconcileNow(host, connectionId);
    expect(report).toMatchObject({ outcome: 'completed', users: { round: 'full', drifted: 0 } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await writesSince(sandbox, since)).toEqual([]);
    // The users without a job title or department (a former employee) keep what they have.
    const admin = await sandbox.user(contoso.adminUpn);
    expect(admin).toMatchObject({ jobTitle: 'IT Administrator', department: 'IT' });
  });

  it('clears a value emptied in the directory (the admin did that), and leaves values the directory never had', async () => {
    const user = await directoryUser(host, 'casey.archer@contoso.com');
    const binding = await bindingOf(host, connectionId, user.id as string);
    expect((await host.api(`users/${user.id as string}`, { method: 'PATCH', json: { jobTitle: null } })).status).toBe(200);
    const cleared = await eventually(async () => {
      const account = await sandbox.user('casey.archer@contoso.com');
      return account.jobTitle === null ? account : undefined;
    }, 10_000, 'the emptied job title to be cleared in Microsoft 365');
    expect(cleared.department).toBe(user.department);
    const shown = await eventually(async () => {
      const current = await bindingOf(host, connectionId, user.id as string);
      return current.lastSyncedAt !== binding.lastSyncedAt ? current : undefined;
    }, 10_000, 'the binding to show its run');
    expect(shown.managedAttributes).toEqual(expect.arrayContaining(['department', 'jobTitle', 'givenName', 'userPrincipalName']));
  });

  it('refresh re-reads what changed in Microsoft 365 into the directory without writing there', async () => {
    const account = await sandbox.user('devon.baker@contoso.com');
    expect((await sandbox.graph(`/users/${account.id as string}`, { method: 'PATCH', body: { jobTitle: 'Principal Specialist', mobilePhone: null } })).status).toBe(204);
    const since = await sandbox.lastRequestSeq();
    const job = await finishedJob(host, await startImport(host, connectionId, { m365UserIds: [account.id], refresh: true }));
    expect(job).toMatchObject({ status: 'completed', skipped: 1 });
    expect((job.results as Json[])[0].reason).toMatch(/read again from Microsoft 365: .*jobTitle/);
    expect(await directoryUser(host, 'devon.baker@contoso.com')).toMatchObject({ jobTitle: 'Principal Specialist' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await writesSince(sandbox, since)).toEqual([]);
  });

  it("never disables, re-passwords or unbinds-away the consenting admin's account: the binding says why", async () => {
    const admin = await directoryUser(host, contoso.adminUpn);
    const since = await sandbox.lastRequestSeq();
    const refused = async (): Promise<Json> =>
      eventually(async () => {
        const binding = await bindingOf(host, connectionId, admin.id as string);
        return binding.state === 'error' && binding.lastError?.code === 'PRIVILEGED_ACCOUNT' ? binding : undefined;
      }, 10_000, 'the binding to refuse the change');

    expect((await host.api(`users/${admin.id as string}/suspend`, { method: 'POST' })).status).toBe(200);
    const suspended = await refused();
    expect(suspended.lastError.message).toMatch(/would disable the Microsoft 365 account admin@contoso\.com, but it is the account this connection was consented with .*allowPrivileged/);
    expect((await host.api(`users/${admin.id as string}/activate`, { method: 'POST' })).status).toBe(200);
    await eventually(async () => ((await bindingOf(host, connectionId, admin.id as string)).state === 'provisioned' ? true : undefined), 10_000, 'the binding to settle');

    expect((await host.api(`users/${admin.id as string}/password`, { method: 'PUT', json: { password: 'An0ther-Strong-Passw0rd!' } })).status).toBe(204);
    expect((await refused()).lastError.message).toMatch(/would set the password of/);

    expect((await host.api(`connections/${connectionId}/users/${admin.id as string}`, { method: 'DELETE' })).status).toBe(202);
    expect((await refused()).lastError.message).toMatch(/would disable/);

    expect(await sandbox.user(contoso.adminUpn)).toMatchObject({ accountEnabled: true });
    expect((await sandbox.requestsSince(since)).filter((r) => r.write)).toEqual([]);
  });

  it("reads Graph's 403 on an administrator's password as PRIVILEGED_ACCOUNT when the binding allows privileged changes", async () => {
    const helpdesk = await directoryUser(host, contoso.helpdeskUpn);
    expect((await host.api(`connections/${connectionId}/users/${helpdesk.id as string}`, { method: 'PUT', json: { allowPrivileged: true } })).status).toBe(202);
    expect((await host.api(`users/${helpdesk.id as string}/password`, { method: 'PUT', json: { password: 'An0ther-Strong-Passw0rd!' } })).status).toBe(204);
    const binding = await eventually(async () => {
      const current = await bindingOf(host, connectionId, helpdesk.id as string);
      return current.lastError?.code === 'PRIVILEGED_ACCOUNT' ? current : undefined;
    }, 10_000, 'the refused password to show on the binding');
    expect(binding).toMatchObject({ state: 'error', allowPrivileged: true });
    expect(binding.lastError.message).toMatch(/Microsoft 365 refused to set the password of helpdesk@contoso\.com/);
  });

  it('plans a settings change and a group bind without one Graph write: per account old -> new, totals and warnings', async () => {
    const since = await sandbox.lastRequestSeq();
    const settingsPlan = await host.api(`connections/${connectionId}/plan`, { method: 'POST', json: { settings: { exportAttributes: ['jobTitle', 'department', 'company'], emptyValues: 'clear' } } });
    expect(settingsPlan.status).toBe(200);
    const plan = await json(settingsPlan);
    // The consenting admin, unbound above, is still enabled: the plan shows the disable it would attempt, marked privileged.
    expect(plan).toMatchObject({ kind: 'settings', totals: { create: 0, takeOver: 0, disable: 1 } });
    expect((plan.accounts as Json[]).find((a) => a.action === 'disable')).toMatchObject({ userPrincipalName: contoso.adminUpn, warnings: ['privileged'] });
    // Clearing empty values blanks the job title emptied earlier is already blank; the former employee has neither title nor department.
    const blanking = (plan.accounts as Json[]).filter((a) => (a.warnings as string[]).includes('blanks_value'));
    for (const account of blanking) expect((account.changes as Json[]).some((c) => c.to === null && c.from !== null)).toBe(true);
    expect(plan.totals.update + plan.totals.disable).toBe((plan.accounts as Json[]).length);

    const group = await json(await host.api('groups', { method: 'POST', json: { name: 'Plan newcomers' } }));
    const created: Json[] = [];
    for (let i = 0; i < 12; i += 1) {
      const user = await json(await host.api('users', { method: 'POST', json: { email: `newcomer${i}@contoso.com`, firstName: 'New', lastName: `Comer${i}`, jobTitle: 'Analyst' } }));
      expect((await host.api(`groups/${group.id as string}/members/${user.id as string}`, { method: 'PUT' })).status).toBe(204);
      created.push(user);
    }
    // One of them has an account already: a take-over with the attributes it would overwrite.
    const existing = await sandbox.graph('/users', { method: 'POST', body: { accountEnabled: true, displayName: 'Old Name', givenName: 'Old', mailNickname: 'newcomer0', userPrincipalName: 'newcomer0@contoso.com', passwordProfile: { password: 'Initial-Passw0rd!x', forceChangePasswordNextSignIn: false } } });
    expect(existing.status).toBe(201);
    const bindPlan = await json(await host.api(`connections/${connectionId}/plan`, { method: 'POST', json: { bind: { groupIds: [group.id] } } }));
    expect(bindPlan.totals).toMatchObject({ users: 12, create: 11, takeOver: 1, memberAdd: 12, memberRemove: 0 });
    // The group has no Microsoft 365 group yet: all twelve would join the one created, the taken-over account by its id.
    expect(bindPlan.memberships).toEqual([{ groupId: group.id, add: expect.arrayContaining([(existing.body as Json).id, 'newcomer1@contoso.com']), remove: [] }]);
    const takeOver = (bindPlan.accounts as Json[]).find((a) => a.action === 'take_over');
    expect(takeOver.changes).toEqual(expect.arrayContaining([{ attribute: 'displayName', from: 'Old Name', to: 'New Comer0' }, { attribute: 'givenName', from: 'Old', to: 'New' }]));
    // The one write is the account created above, behind the service's back.
    expect((await sandbox.requestsSince(since)).filter((r) => r.write)).toHaveLength(1);
  });
  it('plans the manager link: nothing after the import (managers imported by a later job linked too), then old -> new for a manager changed in the directory, without a Graph write', async () => {
    const since = await sandbox.lastRequestSeq();
    const settings = { exportAttributes: ['jobTitle', 'department', 'manager'] };
    const planOf = async (): Promise<Json> => json(await host.api(`connections/${connectionId}/plan`, { method: 'POST', json: { settings } }));
    // The privileged managers were imported by id in a later job than their reports: those reports
    // were linked to them then, so turning the manager rule on would write nothing.
    const first = await planOf();
    expect(first.totals.manager).toBe(0);
    expect((first.accounts as Json[]).filter((a) => (a.changes as Json[]).some((c) => c.attribute === 'manager'))).toEqual([]);
    const user = await directoryUser(host, 'blake.archer@contoso.com');
    const before = await bindingOf(host, connectionId, user.managerId as string);
    const manager = await directoryUser(host, 'devon.baker@contoso.com');
    const after = await bindingOf(host, connectionId, manager.id as string);
    expect((await host.api(`users/${user.id as string}`, { method: 'PATCH', json: { managerId: manager.id } })).status).toBe(200);
    const plan = await planOf();
    expect(plan.totals.manager).toBe(first.totals.manager + 1);
    const entry = (plan.accounts as Json[]).find((a) => a.userId === user.id);
    expect(entry.changes).toContainEqual({ attribute: 'manager', from: before.m365UserId, to: after.m365UserId });
    expect(await writesSince(sandbox, since)).toEqual([]);
  });
});
