import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, connectTenant, createUser, eventually, events, json, reconcileLeaseFree, reconcileNow, SandboxClient, type Json } from './provisioning-support';

describe('reconcile over the admin API, against the sandbox tenant', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connection: Json;
  let seq = 0;

  const connectionPath = () => `connections/${connection.id as string}`;

  const provisionedUser = async (fields: Record<string, unknown> = {}): Promise<{ user: Json; binding: Json }> => {
    seq += 1;
    const user = await createUser(host, { email: `reconciled${seq}@contoso.com`, firstName: 'Reconciled', lastName: `Number${seq}`, ...fields });
    expect((await host.api(`${connectionPath()}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    return { user, binding: await bindingIn(host, connection.id as string, user.id as string, 'provisioned') };
  };

  const reconcile = (): Promise<Json> => reconcileNow(host, connection.id as string);

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connection = await connectTenant(host, { domains: ['contoso.com'], settings: { exportAttributes: ['jobTitle'] } });
  });

  afterAll(async () => {
    await host.close();
  });

  it('corrects a jobTitle changed through Graph behind our back, with exactly one update event', async () => {
    const { user, binding } = await provisionedUser({ jobTitle: 'Engineer' });
    expect((await reconcile()).users).toMatchObject({ round: 'full', fullRoundReason: 'first_run' });

    const patched = await sandbox.graph(`/users/${binding.m365UserId as string}`, { method: 'PATCH', body: { jobTitle: 'Changed in the portal' } });
    expect(patched.status).toBe(204);
    const report = await reconcile();
    expect(report).toMatchObject({ outcome: 'completed', users: { round: 'incremental', drifted: 1, nudged: 1 } });

    await eventually(async () => ((await sandbox.user(user.email as string)).jobTitle === 'Engineer' ? true : undefined), 10_000, 'the jobTitle to be corrected');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await events(host, { userId: user.id as string, type: 'user_update_provision' })).toEqual([expect.objectContaining({ changedAttributes: ['jobTitle'], m365UserId: binding.m365UserId })]);
  });

  it('re-creates a bound account deleted in Microsoft 365, with one more create event', async () => {
    const { user, binding } = await provisionedUser();
    await reconcile();
    expect((await sandbox.graph(`/users/${binding.m365UserId as string}`, { method: 'DELETE' })).status).toBe(204);

    expect((await reconcile()).users).toMatchObject({ deleted: 1, nudged: 1 });

    const recreated = await eventually(async () => {
      const account = await sandbox.user(user.email as string);
      return account !== undefined && account.id !== binding.m365UserId ? account : undefined;
    }, 10_000, 'the account to be re-created');
    expect(recreated).toMatchObject({ accountEnabled: true, givenName: 'Reconciled' });
    const rebound = await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    expect(rebound.m365UserId).toBe(recreated.id);
    const creates = await events(host, { userId: user.id as string, type: 'user_create_provision' });
    expect(creates.map((e: Json) => e.m365UserId).sort()).toEqual([binding.m365UserId, recreated.id].sort());
  });

  it('runs one of two reconciles started at once; the other answers 409, the lease being held', async () => {
    // The last test's run has let go of its lease.
    await reconcileLeaseFree(host, connection.id as string);
    const answers = await Promise.all([host.api(`${connectionPath()}/reconcile`, { method: 'POST' }), host.api(`${connectionPath()}/reconcile`, { method: 'POST', json: { full: true } })]);
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([202, 409]);
    const refused = await json(answers.find((a) => a.status === 409) as Response);
    expect(refused.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already running.*lease is held until/) });
    const running = await json(answers.find((a) => a.status === 202) as Response);
    await eventually(async () => ((await json(await host.api(`${connectionPath()}/reconcile`))).lastRun?.runId === running.runId ? true : undefined), 10_000, 'the run to finish');
  });

  it('pauses deactivations beyond a lowered threshold until an admin confirms them', async () => {
    const users = [await provisionedUser(), await provisionedUser(), await provisionedUser()];
    const lowered = await host.api(connectionPath(), { method: 'PATCH', json: { settings: { deactivationGuard: { maxUsers: 2, maxPercent: 100 } } } });
    expect(lowered.status).toBe(200);

    // Two are suspended, the third deleted from the directory.
    for (const { user } of users.slice(0, 2)) expect((await host.api(`users/${user.id as string}/suspend`, { method: 'POST' })).status).toBe(200);
    expect((await host.api(`users/${users[2]?.user.id as string}`, { method: 'DELETE' })).status).toBe(204);

    const paused = await eventually(async () => {
      const current = await json(await host.api(connectionPath()));
      return current.status === 'sync_paused' && current.deactivationHold?.count === 3 ? current : undefined;
    }, 10_000, 'the connection to pause');
    expect(paused.deactivationHold).toMatchObject({ count: 3 });
    // Well past the time a deactivation waits for its burst: still nothing deactivated.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const { user } of users) expect((await sandbox.user(user.email as string)).accountEnabled).toBe(true);
    const held = await json(await host.api(`${connectionPath()}/deactivations`));
    expect(held).toMatchObject({ status: 'sync_paused', count: 3 });
    expect(held.items.map((i: Json) => i.userId).sort()).toEqual(users.map(({ user }) => user.id).sort());
    // Each held change names its user as the directory holds them; the deleted one shows its id only.
    const heldOf = (id: string): Json => held.items.find((i: Json) => i.userId === id);
    for (const { user } of users.slice(0, 2)) expect(heldOf(user.id as string).user).toEqual({ email: user.email, displayName: user.displayName });
    expect(heldOf(users[2]?.user.id as string)).not.toHaveProperty('user');

    const confirmed = await host.api(`${connectionPath()}/deactivations/confirm`, { method: 'POST' });
    expect(confirmed.status).toBe(200);
    expect(await json(confirmed)).toEqual({ status: 'active', released: 3 });
    for (const { user } of users) {
      await bindingIn(host, connection.id as string, user.id as string, 'deprovisioned');
      expect((await sandbox.user(user.email as string)).accountEnabled).toBe(false);
    }
    expect((await json(await host.api(connectionPath()))).status).toBe('active');
    expect((await host.api(`${connectionPath()}/deactivations/confirm`, { method: 'POST' })).status).toBe(409);
  });
});
