import type { Clock } from '../../src/domain/ports/clock';
import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, connectTenant, createUser, eventually, events, json, SandboxClient, type Json } from './provisioning-support';

const day = 86_400_000;

/** Real time plus a shift the test moves forward: the host and its sandbox tenant share it. */
class ShiftedClock implements Clock {
  shiftMs = 0;
  now(): Date {
    return new Date(Date.now() + this.shiftMs);
  }
}

describe('account lifecycle over the admin API, against the sandbox tenant', () => {
  const clock = new ShiftedClock();
  let host: TestHost;
  let sandbox: SandboxClient;
  let connection: Json;

  beforeAll(async () => {
    host = await startTestHost({ clock });
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connection = await connectTenant(host, { domains: ['contoso.com'], settings: { deprovisionAction: 'disable_then_delete', deleteAfterDays: 30 } });
  });

  afterAll(async () => {
    await host.close();
  });

  const connectionPath = () => `connections/${connection.id as string}`;

  async function provisioned(email: string): Promise<{ userId: string; m365UserId: string }> {
    const user = await createUser(host, { email, firstName: 'Life', lastName: 'Cycle' });
    expect((await host.api(`${connectionPath()}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    const binding = await bindingIn(host, connection.id as string, user.id as string, 'provisioned');
    return { userId: user.id as string, m365UserId: binding.m365UserId as string };
  }

  it('suspending a user disables the account and revokes its sign-in sessions', async () => {
    const { userId, m365UserId } = await provisioned('signout@contoso.com');
    const before = await sandbox.lastRequestSeq();
    expect((await host.api(`users/${userId}/suspend`, { method: 'POST' })).status).toBe(200);
    await bindingIn(host, connection.id as string, userId, 'deprovisioned');

    const account = await sandbox.graph(`/users/${m365UserId}?$select=accountEnabled,signInSessionsValidFromDateTime`);
    expect(account.body.accountEnabled).toBe(false);
    expect(Date.parse(account.body.signInSessionsValidFromDateTime as string)).toBeGreaterThan(clock.now().getTime() - 60_000);
    const requests = await sandbox.requestsSince(before);
    expect(requests.filter((r) => r.method === 'POST' && r.path.endsWith(`/users/${m365UserId}/revokeSignInSessions`))).toEqual([expect.objectContaining({ status: 200 })]);
    expect(await events(host, { userId, type: 'user_deprovision' })).toEqual([expect.objectContaining({ m365UserId, sessionsRevoked: true })]);
  });

  it('deletes an unbound account after the grace period and restores it, same object id, when the user is bound again', async () => {
    const { userId, m365UserId } = await provisioned('leaver@contoso.com');
    expect((await host.api(`${connectionPath()}/users/${userId}`, { method: 'DELETE' })).status).toBe(202);
    const disabled = await bindingIn(host, connection.id as string, userId, 'deprovisioned');
    expect(disabled.disabledAt).toEqual(expect.any(String));

    // Within the grace period a run deletes nothing.
    clock.shiftMs += 10 * day;
    expect((await host.api(`${connectionPath()}/reconcile`, { method: 'POST' })).status).toBe(202);
    await eventually(async () => ((await json(await host.api(`${connectionPath()}/reconcile`))).lastRun?.lifecycle !== undefined ? true : undefined), 10_000, 'a finished run');
    expect((await sandbox.graph(`/users/${m365UserId}?$select=id`)).status).toBe(200);

    clock.shiftMs += 21 * day;
    expect((await host.api(`${connectionPath()}/reconcile`, { method: 'POST' })).status).toBe(202);
    await eventually(async () => ((await events(host, { userId, type: 'user_delete_provision' })).length === 1 ? true : undefined), 10_000, 'the delete event');
    expect((await sandbox.graph(`/users/${m365UserId}?$select=id`)).status).toBe(404);
    expect((await sandbox.graph(`/directory/deletedItems/${m365UserId}`)).body).toMatchObject({ id: m365UserId, userPrincipalName: 'leaver@contoso.com' });
    expect(await json(await host.api(`${connectionPath()}/users/${userId}`))).toMatchObject({ state: 'deprovisioned', m365UserId, deletedAt: expect.any(String) });

    expect((await host.api(`${connectionPath()}/users/${userId}`, { method: 'PUT' })).status).toBe(202);
    const restored = await bindingIn(host, connection.id as string, userId, 'provisioned');
    expect(restored.m365UserId).toBe(m365UserId);
    expect((await sandbox.graph(`/users/${m365UserId}?$select=id,accountEnabled`)).body).toMatchObject({ id: m365UserId, accountEnabled: true });
    const creates = await events(host, { userId, type: 'user_create_provision' });
    expect(creates.filter((e: Json) => e.restored === true)).toEqual([expect.objectContaining({ m365UserId })]);
  });
});
