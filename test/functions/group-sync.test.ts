import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, connectTenant, contoso, createUser, eventually, events, json, SandboxClient, type Json } from './provisioning-support';

describe('security groups over the admin API, against the sandbox tenant', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connectionId: string;
  let seq = 0;

  const newUser = (domain = 'contoso.com') => {
    seq += 1;
    return createUser(host, { email: `crew${seq}@${domain}`, firstName: 'Crew', lastName: `Member${seq}` });
  };

  async function newGroup(name: string, memberIds: readonly string[]): Promise<Json> {
    const created = await host.api('groups', { method: 'POST', json: { name } });
    expect(created.status).toBe(201);
    const group = await json(created);
    for (const userId of memberIds) expect((await host.api(`groups/${group.id as string}/members/${userId}`, { method: 'PUT' })).status).toBe(204);
    return group;
  }

  /** The sandbox's security group with this display name, once there is exactly one. */
  function m365Group(displayName: string): Promise<Json> {
    return eventually(async () => {
      const found = await sandbox.graph(`/groups?$filter=${encodeURIComponent(`displayName eq '${displayName}'`)}&$select=id,displayName,mailNickname,mailEnabled,securityEnabled,groupTypes`);
      return (found.body.value as Json[]).length === 1 ? (found.body.value as Json[])[0] : undefined;
    }, 15_000, `a Microsoft 365 group named ${displayName}`);
  }

  async function memberIds(m365GroupId: string): Promise<string[]> {
    const listed = await sandbox.graph(`/groups/${m365GroupId}/members?$select=id`);
    return (listed.body.value as Json[]).map((m) => m.id as string).sort();
  }

  /** Waits until the group holds exactly `expected` (account ids). */
  function membersBecome(m365GroupId: string, expected: readonly string[], what: string): Promise<string[]> {
    const wanted = JSON.stringify([...expected].sort());
    return eventually(async () => {
      const ids = await memberIds(m365GroupId);
      return JSON.stringify(ids) === wanted ? ids : undefined;
    }, 15_000, what);
  }

  /** An on-demand reconcile run (POST /connections/{id}/reconcile), waited for; returns its report. */
  async function reconcile(): Promise<Json> {
    // A run keeps its lease a moment after it finishes.
    const started = await eventually(async () => {
      const answer = await host.api(`connections/${connectionId}/reconcile`, { method: 'POST' });
      return answer.status === 409 ? undefined : answer;
    }, 3_000, 'the previous run to release its lease');
    expect(started.status).toBe(202);
    const { runId } = await json(started);
    return eventually(async () => {
      const status = await json(await host.api(`connections/${connectionId}/reconcile`));
      return status.lastRun?.runId === runId ? status.lastRun : undefined;
    }, 10_000, 'the reconcile run to finish');
  }

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connectionId = (await connectTenant(host, { domains: ['contoso.com'] })).id as string;
  });

  afterAll(async () => {
    await host.close();
  });

  it('a bound group becomes a security group holding exactly the provisioned members, then follows the directory and undoes changes made in Microsoft 365', async () => {
    const [ana, ben, cy] = [await newUser(), await newUser(), await newUser()];
    const outsider = await newUser('fabrikam.com');
    const group = await newGroup('Flight Crew', [ana.id, ben.id, cy.id, outsider.id]);
    expect((await host.api(`connections/${connectionId}/groups/${group.id as string}`, { method: 'PUT' })).status).toBe(202);

    const accounts = await Promise.all([ana, ben, cy].map(async (u) => (await bindingIn(host, connectionId, u.id as string, 'provisioned', 15_000)).m365UserId as string));
    const m365 = await m365Group('Flight Crew');
    expect(m365).toMatchObject({ mailNickname: 'FlightCrew', mailEnabled: false, securityEnabled: true, groupTypes: [] });
    await membersBecome(m365.id as string, accounts, 'the provisioned members in the group');
    expect(await events(host, { connectionId, type: 'group_create_provision' })).toEqual([expect.objectContaining({ groupId: group.id, m365GroupId: m365.id })]);
    // The group binding shows its security group's state, read alone or in the connection's list.
    const binding = await eventually(async () => {
      const read = await json(await host.api(`connections/${connectionId}/groups/${group.id as string}`));
      return read.m365Group?.state === 'synced' ? read : undefined;
    }, 10_000, 'the security group to show synced');
    expect(binding).toMatchObject({ groupId: group.id, expansion: 'bound', boundMembers: 3, m365Group: { state: 'synced', m365GroupId: m365.id, attempts: 0 } });
    const listed = await json(await host.api(`connections/${connectionId}/groups`));
    expect(listed.items).toContainEqual(expect.objectContaining({ groupId: group.id, m365Group: expect.objectContaining({ m365GroupId: m365.id }) }));
    expect((await host.api(`connections/${connectionId}/groups/${ana.id as string}`)).status).toBe(404);

    // Removed in the directory: removed in Microsoft 365.
    expect((await host.api(`groups/${group.id as string}/members/${ben.id as string}`, { method: 'DELETE' })).status).toBe(204);
    const [anaAccount, , cyAccount] = accounts as [string, string, string];
    await membersBecome(m365.id as string, [anaAccount, cyAccount], 'the removed member to leave the group');

    // Changed in Microsoft 365: the next reconciliation undoes it.
    expect((await reconcile()).groups).toMatchObject({ fullRound: true, driftedGroups: 0 });
    const stranger = (await sandbox.user(contoso.helpdeskUpn)).id as string;
    const added = await sandbox.graph(`/groups/${m365.id as string}/members/$ref`, { method: 'POST', body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${stranger}` } });
    expect(added.status).toBe(204);
    const dropped = await sandbox.graph(`/groups/${m365.id as string}/members/${cyAccount}/$ref`, { method: 'DELETE' });
    expect(dropped.status).toBe(204);
    expect((await reconcile()).groups).toMatchObject({ fullRound: false, driftedGroups: 1, nudgedGroups: 1 });
    await membersBecome(m365.id as string, [anaAccount, cyAccount], 'the stranger to be removed and the member re-added');

    // Renamed in the directory: renamed in Microsoft 365, mailNickname unchanged.
    expect((await host.api(`groups/${group.id as string}`, { method: 'PATCH', json: { name: 'Cabin Crew' } })).status).toBe(200);
    expect(await m365Group('Cabin Crew')).toMatchObject({ id: m365.id, mailNickname: 'FlightCrew' });
    expect(await events(host, { connectionId, type: 'group_update_provision' })).toEqual([expect.objectContaining({ changedAttributes: ['displayName'], m365GroupId: m365.id })]);
    // Events name the group as the directory calls it now, the create event too.
    const groupEvents = (await events(host, { connectionId })).filter((e) => e.groupId === group.id);
    expect(groupEvents.length).toBeGreaterThanOrEqual(3);
    expect(groupEvents.map((e) => e.group)).toEqual(groupEvents.map(() => ({ name: 'Cabin Crew' })));
    const memberships = await events(host, { connectionId, type: 'group_membership_provision' });
    // Members join as they get provisioned (one event or several); each correction is one event.
    const counts = memberships.map((e) => [e.addedMembers as number, e.removedMembers as number]);
    expect(counts).toContainEqual([0, 1]);
    expect(counts).toContainEqual([1, 1]);
    expect(counts.reduce((sum, [added]) => sum + (added as number), 0)).toBe(4);
    expect(counts.reduce((sum, [, removed]) => sum + (removed as number), 0)).toBe(2);
  });

  it('unbinding leaves the Microsoft 365 group as it is', async () => {
    const member = await newUser();
    const group = await newGroup('Ground Crew', [member.id]);
    await host.api(`connections/${connectionId}/groups/${group.id as string}`, { method: 'PUT' });
    const account = (await bindingIn(host, connectionId, member.id as string, 'provisioned', 15_000)).m365UserId as string;
    const m365 = await m365Group('Ground Crew');
    await membersBecome(m365.id as string, [account], 'the member in the group');

    expect((await host.api(`connections/${connectionId}/groups/${group.id as string}`, { method: 'DELETE' })).status).toBe(202);
    await bindingIn(host, connectionId, member.id as string, 'deprovisioned', 15_000);
    const bound = async () => ((await json(await host.api(`connections/${connectionId}/groups`))).items as Json[]).some((b) => b.groupId === group.id);
    await eventually(async () => ((await bound()) ? undefined : true), 15_000, 'the group binding to go');
    expect((await sandbox.graph(`/groups/${m365.id as string}?$select=id,displayName`)).body).toMatchObject({ id: m365.id, displayName: 'Ground Crew' });

    // Deleted from the directory, the group's events keep its id only.
    const groupEvents = async () => (await events(host, { connectionId })).filter((e) => e.groupId === group.id);
    expect((await groupEvents()).map((e) => e.group)).toContainEqual({ name: 'Ground Crew' });
    expect((await host.api(`groups/${group.id as string}`, { method: 'DELETE' })).status).toBe(204);
    const left = await groupEvents();
    expect(left.length).toBeGreaterThan(0);
    expect(left.filter((e) => 'group' in e)).toEqual([]);
  });
});
