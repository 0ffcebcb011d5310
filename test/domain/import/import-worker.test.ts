import type { GroupBindingRecord } from '../../../src/domain/provisioning/binding';
import { groupBindingId } from '../../../src/domain/provisioning/binding';
import { connectionId, ImportHarness } from './import-harness';

function outcomes(results: readonly { outcome: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return counts;
}

describe('import jobs', () => {
  it('imports users by id: new ones bound as provisioned with no nudge, a conflict failed with the exact reason, a disabled account suspended', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const ada = h.tenant.addPerson({ userPrincipalName: 'ada@contoso.com', givenName: 'Ada', surname: 'Lovelace', mailNickname: 'ada.l' });
    const gone = h.tenant.addPerson({ userPrincipalName: 'gone@contoso.com', mail: null, accountEnabled: false });
    const clash = h.tenant.addPerson({ userPrincipalName: 'Clash@Contoso.com' });
    const existing = await h.directoryUser('clash@contoso.com');

    const jobId = await h.start({ m365UserIds: [ada.id, gone.id, clash.id, ada.id] });
    expect(await h.job(jobId)).toMatchObject({ status: 'queued', total: 3 });
    await h.drain();

    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'completed', total: 3, succeeded: 2, failed: 1, skipped: 0 });
    const byId = new Map(job.results.map((r) => [r.type === 'user' ? r.m365UserId : '', r]));
    expect(byId.get(clash.id)).toMatchObject({ outcome: 'failed', reason: 'an account with the same email already exists' });
    const [adaUser] = await h.usersByEmail('ada@contoso.com');
    expect(adaUser).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace', username: 'ada.l', state: 'active' });
    expect(byId.get(ada.id)).toMatchObject({ outcome: 'imported', userId: adaUser?.id });
    expect(await h.binding(adaUser?.id as string)).toMatchObject({ state: 'provisioned', m365UserId: ada.id, via: { direct: true, groups: [] }, handledChangeSeq: 1, changeSeq: 1 });
    // Mail is absent: the UPN is the email; disabled: suspended.
    const [goneUser] = await h.usersByEmail('gone@contoso.com');
    expect(goneUser).toMatchObject({ state: 'suspended', username: 'gone' });
    expect(await h.binding(goneUser?.id as string)).toMatchObject({ state: 'provisioned', m365UserId: gone.id });
    expect(await h.binding(existing)).toBeUndefined();
    expect(h.provisioningMessages()).toEqual([]);
    expect(h.notices).toEqual([]);
  });

  it('reports an id the tenant does not have as failed, and a user imported before as skipped', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const ada = h.tenant.addPerson({ userPrincipalName: 'ada@contoso.com' });
    await h.start({ m365UserIds: [ada.id] });
    await h.drain();
    const jobId = await h.start({ m365UserIds: [ada.id, '00000000-0000-4000-8000-ffffffffffff'] });
    await h.drain();
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'completed', total: 2, succeeded: 0, skipped: 1, failed: 1 });
    expect(job.results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ m365UserId: ada.id, outcome: 'skipped', reason: 'already imported' }),
        expect.objectContaining({ m365UserId: '00000000-0000-4000-8000-ffffffffffff', outcome: 'failed', reason: 'no user with this object id in the tenant' }),
      ]),
    );
    expect(await h.usersByEmail('ada@contoso.com')).toHaveLength(1);
  });

  it("links the directory user with the same email under the policy 'link', and nudges provisioning to push the directory's attributes", async () => {
    const h = new ImportHarness();
    await h.addConnection({ settings: { conflictPolicy: 'link' } });
    const clash = h.tenant.addPerson({ userPrincipalName: 'clash@contoso.com' });
    const existing = await h.directoryUser('CLASH@contoso.com', { firstName: 'Directory' });
    const jobId = await h.start({ m365UserIds: [clash.id] });
    await h.drain();
    expect((await h.job(jobId)).results).toEqual([expect.objectContaining({ outcome: 'imported', userId: existing, linked: true })]);
    expect(await h.binding(existing)).toMatchObject({ state: 'pending', m365UserId: clash.id, changeSeq: 1, handledChangeSeq: 0 });
    expect(h.provisioningMessages()).toEqual([expect.objectContaining({ body: expect.objectContaining({ kind: 'user', userId: existing, changeSeq: 1 }) })]);
  });

  it('fails a user whose domain the connection does not claim, or whose email is bound on another connection', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    await h.addConnection({ id: 'conn-fabrikam', domains: ['fabrikam.com'] });
    const outsider = h.tenant.addPerson({ userPrincipalName: 'svc@contoso.onmicrosoft.com', mail: null });
    const shared = h.tenant.addPerson({ userPrincipalName: 'sam@contoso.com', mail: 'sam@fabrikam.com' });
    const sam = await h.directoryUser('sam@fabrikam.com');
    const { bindUser } = await import('../../../src/domain/provisioning/bind-user');
    expect((await bindUser(h.deps, 'conn-fabrikam', sam)).ok).toBe(true);
    const jobId = await h.start({ m365UserIds: [outsider.id, shared.id] });
    await h.drain();
    const results = (await h.job(jobId)).results;
    expect(results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ m365UserId: outsider.id, outcome: 'failed', reason: 'the email domain contoso.onmicrosoft.com is not claimed by this connection' }),
        expect.objectContaining({ m365UserId: shared.id, outcome: 'failed', reason: 'an account with the same email already exists and is bound to another connection (conn-fabrikam)' }),
      ]),
    );
  });

  it('imports what a filter matches, across pages, with its status filter', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    for (let i = 0; i < 8; i += 1) h.tenant.addPerson({ userPrincipalName: `staff${i}@contoso.com`, accountEnabled: i !== 3 });
    h.tenant.addPerson({ userPrincipalName: 'other@contoso.com' });
    await h.directoryUser('staff5@contoso.com');
    const jobId = await h.start({ filter: { q: 'staff', status: 'new', enabled: true } });
    await h.drain();
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'completed', source: 'filter', succeeded: 6, failed: 0, skipped: 0, total: 6 });
    expect(job.results.map((r) => (r.type === 'user' ? r.upn : '')).sort()).toEqual(['staff0', 'staff1', 'staff2', 'staff4', 'staff6', 'staff7'].map((n) => `${n}@contoso.com`));
    // The tenant's 9 users were read in pages of 3, once each.
    expect(h.tenant.reads.filter((r) => r.startsWith('users'))).toHaveLength(3);
  });

  it('counts a page once however often it is delivered', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const people = [0, 1, 2].map((i) => h.tenant.addPerson({ userPrincipalName: `p${i}@contoso.com` }));
    const jobId = await h.start({ m365UserIds: people.map((p) => p.id) });
    const [message] = h.queue.pending;
    await h.deliver({ ...message!, deliveryCount: 0 });
    await h.deliver({ ...message!, deliveryCount: 0 });
    expect(await h.job(jobId)).toMatchObject({ status: 'completed', succeeded: 3, total: 3 });
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 9, 12, 17, 23])('finishes after a crash at write %i, with nobody imported twice and the counts exact', async (crashAt) => {
    const h = new ImportHarness();
    await h.addConnection();
    const people = [0, 1, 2, 3, 4, 5, 6].map((i) => h.tenant.addPerson({ userPrincipalName: `p${i}@contoso.com`, accountEnabled: i !== 2 }));
    const jobId = await h.start({ filter: { q: 'p' } });
    h.crashing.crashAtWrite(crashAt);
    await h.drain();
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'completed', succeeded: 7, failed: 0, skipped: 0 });
    expect(outcomes(job.results)).toEqual({ imported: 7 });
    for (const person of people) {
      const users = await h.usersByEmail(person.userPrincipalName);
      expect(users).toHaveLength(1);
      expect(await h.binding(users[0]?.id as string)).toMatchObject({ state: 'provisioned', m365UserId: person.id });
    }
    expect((await h.usersByEmail('p2@contoso.com'))[0]?.state).toBe('suspended');
    expect(h.provisioningMessages()).toEqual([]);
  });

  it('retries a page Graph fails to serve, and ends the job failed once the attempts run out', async () => {
    const h = new ImportHarness({ maxAttempts: 3 });
    await h.addConnection();
    h.tenant.addPerson({ userPrincipalName: 'a@contoso.com' });
    const transient = { kind: 'transient', code: 'HTTP_503', message: 'unavailable', throttled: false } as const;
    h.tenant.failures.push(transient);
    const recovered = await h.start({ filter: {} });
    await h.drain();
    expect(await h.job(recovered)).toMatchObject({ status: 'completed', succeeded: 1 });

    h.tenant.failures.push(transient, transient, transient);
    const doomed = await h.start({ filter: {} });
    await h.drain();
    const job = await h.job(doomed);
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/could not read page 0 of the tenant's users after 3 attempts/);
  });

  it('waits without counting while Graph throttles, then carries on', async () => {
    const h = new ImportHarness({ maxAttempts: 2 });
    await h.addConnection();
    h.tenant.addPerson({ userPrincipalName: 'a@contoso.com' });
    const throttled = { kind: 'transient', code: 'TooManyRequests', message: 'throttled', throttled: true, retryAfterMs: 5_000 } as const;
    h.tenant.failures.push(throttled, throttled, throttled);
    const started = h.clock.ms;
    const jobId = await h.start({ filter: {} });
    await h.drain();
    expect(await h.job(jobId)).toMatchObject({ status: 'completed', succeeded: 1 });
    expect(h.clock.ms - started).toBeGreaterThanOrEqual(15_000);
  });

  it('stops the job when the connection is de-authorized', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    h.tenant.addPerson({ userPrincipalName: 'a@contoso.com' });
    const jobId = await h.start({ filter: {} });
    await h.setConnection(connectionId, { status: 'deauthorized' });
    await h.drain();
    expect(await h.job(jobId)).toMatchObject({ status: 'failed', error: expect.stringContaining('deauthorized'), succeeded: 0 });
  });

  it('imports security groups one after the other, with their members once each, and binds them anchored on the Microsoft 365 group', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const people = [0, 1, 2, 3, 4].map((i) => h.tenant.addPerson({ userPrincipalName: `m${i}@contoso.com` }));
    const red = h.tenant.addGroup({ displayName: 'Red' }, people.slice(0, 4));
    const blue = h.tenant.addGroup({ displayName: 'Blue', description: 'Blue team' }, people.slice(2));
    const unified = h.tenant.addGroup({ displayName: 'Mail', mailEnabled: true, groupTypes: ['Unified'] }, people);
    const jobId = await h.start({ groups: [red.id, blue.id, unified.id] });
    await h.drain();

    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'completed', source: 'groups', succeeded: 7, failed: 1, skipped: 0 });
    const groups = job.results.filter((r) => r.type === 'group');
    expect(groups).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ m365GroupId: red.id, displayName: 'Red', outcome: 'imported' }),
        expect.objectContaining({ m365GroupId: blue.id, displayName: 'Blue', outcome: 'imported' }),
        expect.objectContaining({ m365GroupId: unified.id, outcome: 'failed', reason: expect.stringContaining('not a security group') }),
      ]),
    );
    expect(job.results.filter((r) => r.type === 'user')).toHaveLength(5);
    for (const group of groups.filter((g) => g.outcome === 'imported')) {
      const groupId = (group as { groupId: string }).groupId;
      const members = await h.inner.query<{ userId: string }>('memberships', { pk: groupId, limit: 100 });
      expect(members.items).toHaveLength(group.type === 'group' && group.m365GroupId === red.id ? 4 : 3);
      const binding = await h.inner.get<GroupBindingRecord>('bindings', connectionId, groupBindingId(groupId));
      expect(binding?.data).toMatchObject({ m365GroupId: group.type === 'group' ? group.m365GroupId : '' });
    }
    // Red's members were read before Blue's group was: one group at a time.
    const order = h.tenant.reads.filter((r) => r.startsWith('group ') || r.startsWith('members'));
    expect(order.findIndex((r) => r === `group ${blue.id}`)).toBeGreaterThan(order.findIndex((r) => r.startsWith(`members ${red.id}`)));
  });

  it('starts the next group even when the process died between counting a group and sending the next', async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const people = [0, 1].map((i) => h.tenant.addPerson({ userPrincipalName: `m${i}@contoso.com` }));
    const red = h.tenant.addGroup({ displayName: 'Red' }, people);
    const blue = h.tenant.addGroup({ displayName: 'Blue' }, people);
    const jobId = await h.start({ groups: [red.id, blue.id] });
    h.queue.lose = (message) => (message.body as { stream?: number }).stream === 1;
    await h.drain();
    const job = await h.job(jobId);
    expect(job).toMatchObject({ status: 'completed', succeeded: 4, failed: 0 });
    expect(job.results.filter((r) => r.type === 'group').map((r) => r.outcome)).toEqual(['imported', 'imported']);
  });

  it("fails a group whose name a directory group has under the policy 'fail', and links it under 'link'", async () => {
    const h = new ImportHarness();
    await h.addConnection();
    const { createGroup } = await import('../../../src/domain/directory/groups');
    const existing = await createGroup(h.deps, { name: 'red' });
    const red = h.tenant.addGroup({ displayName: 'Red' }, []);
    const failed = await h.start({ groups: [red.id] });
    await h.drain();
    expect((await h.job(failed)).results).toEqual([expect.objectContaining({ outcome: 'failed', reason: 'a group with the same name already exists' })]);

    await h.setConnection(connectionId, { settings: { ...(await h.addConnection()).settings, conflictPolicy: 'link' } });
    const linked = await h.start({ groups: [red.id] });
    await h.drain();
    expect((await h.job(linked)).results).toEqual([expect.objectContaining({ outcome: 'imported', linked: true, groupId: existing.ok ? existing.value.value.id : '' })]);
  });
});
