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
    // The service account's domain (contoso.onmicrosoft.com) is not claimed by the connection.
    expect(job).toMatchObject({ status: 'completed', succeeded: 36, failed: 1 });

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
});
