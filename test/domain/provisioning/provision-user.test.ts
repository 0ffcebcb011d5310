import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { toUser } from '../../../src/domain/directory/user-records';
import { bindUser, linkExistingAccount, unbindUser } from '../../../src/domain/provisioning/bind-user';
import { pendingPasswordSecretName } from '../../../src/domain/provisioning/binding';
import { removeAllBindings } from '../../../src/domain/provisioning/remove-all-bindings';
import { ProvisioningHarness, testConnectionId } from './provisioning-harness';

const transient503 = { kind: 'transient', code: 'serviceNotAvailable', message: 'Service unavailable', throttled: false } as const;

async function boundAndProvisioned(h: ProvisioningHarness, fields: Parameters<ProvisioningHarness['addUser']>[0] = {}) {
  const user = await h.addUser(fields);
  const bound = await bindUser(h.deps, testConnectionId, user.id);
  expect(bound.ok).toBe(true);
  await h.drain();
  const binding = await h.binding(user.id);
  expect(binding?.state).toBe('provisioned');
  return { user, m365UserId: binding?.m365UserId as string };
}

describe('provisioning worker', () => {
  let h: ProvisioningHarness;

  beforeEach(async () => {
    h = new ProvisioningHarness();
    await h.addConnection();
  });

  describe('binding a user', () => {
    it('creates the account with the always-mapped attributes, a complex random password and the usage location, and records one create event', async () => {
      await h.setConnection(testConnectionId, { settings: { ...(await h.store.get<{ settings: object }>('connections', testConnectionId, testConnectionId))!.data.settings, usageLocation: 'DE' } as never });
      const user = await h.addUser({ email: 'ada.lovelace@contoso.com', firstName: 'Ada', lastName: 'Lovelace', displayName: 'Ada Lovelace', jobTitle: 'Analyst' });
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();

      const account = h.gateway.byUpn('ada.lovelace@contoso.com');
      expect(account).toMatchObject({ givenName: 'Ada', surname: 'Lovelace', displayName: 'Ada Lovelace', mailNickname: 'ada.lovelace', accountEnabled: true, usageLocation: 'DE' });
      // jobTitle is an optional rule, off by default.
      expect(account?.jobTitle).toBeUndefined();
      const password = h.gateway.passwords.get(account?.id as string) as string;
      expect(password).toHaveLength(20);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[0-9]/);
      expect(password).toMatch(/[^A-Za-z0-9]/);

      const binding = await h.binding(user.id);
      expect(binding).toMatchObject({ state: 'provisioned', m365UserId: account?.id, attempts: 0 });
      expect(binding?.lastSyncedAt).toBeDefined();
      const events = await h.events();
      expect(events).toEqual([expect.objectContaining({ type: 'user_create_provision', userId: user.id, m365UserId: account?.id })]);
      expect(h.notices).toHaveLength(1);
      expect(h.notices[0]?.to).toBe('ada.lovelace@contoso.com');
    });

    it('reads with $select of the managed properties only', async () => {
      await h.setConnection(testConnectionId, { settings: { exportAttributes: ['jobTitle'], conflictPolicy: 'fail', deletedAccountPolicy: 'recreate', deprovisionAction: 'disable', deleteAfterDays: 30, licenses: [], removeLicensesOnDeprovision: false, revokeSessionsOnDeprovision: true, deactivationGuard: { maxUsers: 50, maxPercent: 10 }, changeGuard: { maxUsers: 500, maxPercent: 10 }, emptyValues: 'keep' } });
      await boundAndProvisioned(h);
      const lookup = h.gateway.calls.find((c) => c.op === 'findByUpn');
      expect(lookup?.select).toEqual(expect.arrayContaining(['id', 'userPrincipalName', 'givenName', 'surname', 'displayName', 'accountEnabled', 'jobTitle']));
      expect(lookup?.select).not.toContain('department');
    });

    it('takes over an existing account with the same UPN, patching only what differs, and records it as the create', async () => {
      const existing = h.gateway.seed({ userPrincipalName: 'grace@contoso.com', givenName: 'G.', surname: 'Hopper', displayName: 'Grace Hopper', mailNickname: 'grace' });
      const user = await h.addUser({ email: 'grace@contoso.com', firstName: 'Grace', lastName: 'Hopper', displayName: 'Grace Hopper' });
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();

      expect(h.gateway.calls.some((c) => c.op === 'create')).toBe(false);
      expect(h.gateway.writes()).toEqual([expect.objectContaining({ op: 'update', id: existing, attributes: { givenName: 'Grace' } })]);
      expect((await h.binding(user.id))?.m365UserId).toBe(existing);
      const events = await h.events();
      expect(events).toEqual([expect.objectContaining({ type: 'user_create_provision', m365UserId: existing, changedAttributes: ['givenName'] })]);
    });

    it('does not take over an account another bound user of the connection is linked to: the binding shows the error', async () => {
      const existing = h.gateway.seed({ userPrincipalName: 'kim@contoso.com', mail: 'kim.lee@contoso.com', givenName: 'Kim', surname: 'Lee', displayName: 'Kim Lee', mailNickname: 'kim' });
      const connection = await h.store.get<ConnectionRecord>('connections', testConnectionId, testConnectionId);
      // Imported with its mail as email: bound to the account, which keeps its UPN kim@contoso.com.
      const imported = await h.addUser({ email: 'kim.lee@contoso.com', firstName: 'Kim', lastName: 'Lee' });
      const linked = await linkExistingAccount(h.deps, connection!.data, toUser(imported), existing, { push: false, names: { userPrincipalName: 'kim@contoso.com', mailNickname: 'kim' } });
      expect(linked.ok).toBe(true);
      // Another directory user whose email is that UPN.
      const other = await h.addUser({ email: 'kim@contoso.com', firstName: 'Kimberly', lastName: 'Other' });
      await bindUser(h.deps, testConnectionId, other.id);
      await h.drain();

      expect(h.gateway.writes()).toEqual([]);
      expect(h.gateway.accounts.get(existing)).toMatchObject({ givenName: 'Kim', surname: 'Lee' });
      expect(await h.binding(other.id)).toMatchObject({ state: 'error', lastError: { code: 'M365_ACCOUNT_LINKED_ELSEWHERE', message: expect.stringContaining(imported.id) } });
      expect((await h.binding(other.id))?.m365UserId).toBeUndefined();
      expect(await h.events()).toEqual([]);
    });

    it('does nothing more when the same nudge is delivered again', async () => {
      const { user } = await boundAndProvisioned(h);
      const callsBefore = h.gateway.calls.length;
      const nudge = h.queue.sent.find((m) => (m.body as { userId: string }).userId === user.id) as (typeof h.queue.sent)[number];
      h.queue.pending.push({ ...nudge, deliveryCount: 0 });
      await h.drain();
      expect(h.gateway.calls.length).toBe(callsBefore);
      expect(await h.events()).toHaveLength(1);
    });
  });

  describe('keeping the account in step', () => {
    beforeEach(async () => {
      await h.setConnection(testConnectionId, { settings: { exportAttributes: ['jobTitle', 'department'], conflictPolicy: 'fail', deletedAccountPolicy: 'recreate', deprovisionAction: 'disable', deleteAfterDays: 30, licenses: [], removeLicensesOnDeprovision: false, revokeSessionsOnDeprovision: true, deactivationGuard: { maxUsers: 50, maxPercent: 10 }, changeGuard: { maxUsers: 500, maxPercent: 10 }, emptyValues: 'keep' } });
    });

    it('PATCHes only the changed attribute and records one update event with its name, not its value', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h, { jobTitle: 'Engineer' });
      h.gateway.calls.length = 0;
      await h.changeUser(user.id, { jobTitle: 'Principal Engineer' });
      await h.drain();

      expect(h.gateway.calls.filter((c) => c.op === 'get')).toHaveLength(1);
      expect(h.gateway.writes()).toEqual([expect.objectContaining({ op: 'update', id: m365UserId, attributes: { jobTitle: 'Principal Engineer' } })]);
      const updates = await h.events('user_update_provision');
      expect(updates).toHaveLength(1);
      expect(updates[0]?.changedAttributes).toEqual(['jobTitle']);
      expect(JSON.stringify(updates[0])).not.toContain('Principal');
    });

    it('writes nothing when the change is to an attribute the connection does not export', async () => {
      const { user } = await boundAndProvisioned(h);
      await h.changeUser(user.id, { location: 'Building 7' });
      await h.drain();
      expect(h.gateway.writes().filter((c) => c.op === 'update')).toHaveLength(0);
      expect(await h.events('user_update_provision')).toHaveLength(0);
    });

    it('sets a handed-off password through passwordProfile, deletes its secret and records one password event', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      await h.hooks.handOffPassword(user.id, 'N3w-Passw0rd-Secret!');
      expect(await h.secrets.get(pendingPasswordSecretName(user.id))).toBe('N3w-Passw0rd-Secret!');
      await h.drain();

      expect(h.gateway.passwords.get(m365UserId)).toBe('N3w-Passw0rd-Secret!');
      expect(await h.secrets.get(pendingPasswordSecretName(user.id))).toBeUndefined();
      expect(await h.events('user_password_update_provision')).toHaveLength(1);
      const everything = JSON.stringify([h.queue.sent, await h.store.query('bindings', { limit: 100 }), await h.events()]);
      expect(everything).not.toContain('N3w-Passw0rd-Secret!');
    });

    it('ignores a password handed off for a user who is not bound', async () => {
      const user = await h.addUser();
      await h.hooks.handOffPassword(user.id, 'N3w-Passw0rd-Secret!');
      expect(h.secrets.values.size).toBe(0);
      expect(h.queue.pending).toHaveLength(0);
    });

    it('disables a suspended user with a deprovision event and enables them again on activation', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      await h.changeUser(user.id, { state: 'suspended' }, 'user.suspended');
      await h.drain();
      expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(false);
      expect(await h.events('user_deprovision')).toEqual([expect.objectContaining({ changedAttributes: ['accountEnabled'] })]);
      expect((await h.binding(user.id))?.state).toBe('deprovisioned');

      await h.changeUser(user.id, { state: 'active' }, 'user.activated');
      await h.drain();
      expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(true);
      expect(await h.events('user_update_provision')).toEqual([expect.objectContaining({ changedAttributes: ['accountEnabled'] })]);
      expect((await h.binding(user.id))?.state).toBe('provisioned');
    });

    it('renames the userPrincipalName on an email change within the connection, without creating an account', async () => {
      await h.setConnection(testConnectionId, { domains: ['contoso.com', 'contoso.org'] });
      const { user, m365UserId } = await boundAndProvisioned(h);
      const check = await h.hooks.checkEmailChange({ ...user, state: 'active' }, 'renamed@contoso.org');
      expect(check.ok).toBe(true);
      await h.changeUser(user.id, { email: 'renamed@contoso.org' });
      await h.drain();

      expect(h.gateway.accounts.size).toBe(1);
      expect(h.gateway.accounts.get(m365UserId)).toMatchObject({ userPrincipalName: 'renamed@contoso.org', mailNickname: 'renamed' });
      expect((await h.events('user_update_provision'))[0]?.changedAttributes).toEqual(['mailNickname', 'userPrincipalName']);
      expect(await h.events('user_create_provision')).toHaveLength(1);
    });

    it('refuses an email change of a bound user to another connection\'s domain or to no connection\'s domain', async () => {
      await h.addConnection({ id: 'conn-fabrikam', domains: ['fabrikam.com'] });
      await h.store.create('uniques', 'domain:fabrikam.com', 'domain:fabrikam.com', { kind: 'domain', value: 'fabrikam.com', connectionId: 'conn-fabrikam', claimedAt: 'x' });
      const { user } = await boundAndProvisioned(h);
      const toOther = await h.hooks.checkEmailChange({ ...user, state: 'active' }, 'someone@fabrikam.com');
      expect(toOther).toEqual({ ok: false, error: { reason: expect.stringContaining('belongs to connection conn-fabrikam') } });
      const toNone = await h.hooks.checkEmailChange({ ...user, state: 'active' }, 'someone@gmail.com');
      expect(toNone).toEqual({ ok: false, error: { reason: expect.stringContaining('no connection does') } });
      const unbound = await h.addUser();
      expect((await h.hooks.checkEmailChange({ ...unbound, state: 'active' }, 'someone@gmail.com')).ok).toBe(true);
    });

    it('sets the manager reference when the manager is bound to the same connection, and skips it with a note otherwise', async () => {
      await h.setConnection(testConnectionId, { settings: { exportAttributes: ['manager'], conflictPolicy: 'fail', deletedAccountPolicy: 'recreate', deprovisionAction: 'disable', deleteAfterDays: 30, licenses: [], removeLicensesOnDeprovision: false, revokeSessionsOnDeprovision: true, deactivationGuard: { maxUsers: 50, maxPercent: 10 }, changeGuard: { maxUsers: 500, maxPercent: 10 }, emptyValues: 'keep' } });
      const boss = await h.addUser();
      const { user, m365UserId } = await boundAndProvisioned(h, { managerId: boss.id });
      expect(h.gateway.calls.some((c) => c.op === 'setManager')).toBe(false);
      expect((await h.binding(user.id))?.note).toContain('not provisioned on this connection');

      // Provisioning the manager nudges the report: no change of the report is needed.
      await bindUser(h.deps, testConnectionId, boss.id);
      await h.drain();
      const bossAccount = (await h.binding(boss.id))?.m365UserId;
      expect(h.gateway.managers.get(m365UserId)).toBe(bossAccount);
      expect((await h.binding(user.id))?.note).toBeUndefined();
      expect((await h.events('user_update_provision')).at(-1)?.changedAttributes).toEqual(['manager']);
    });
  });

  describe('unbinding and de-authorization', () => {
    it('disables the account on unbind, records a deprovision event and releases the claim', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      const unbound = await unbindUser(h.deps, testConnectionId, user.id);
      expect(unbound.ok).toBe(true);
      await h.drain();
      expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(false);
      expect(await h.events('user_deprovision')).toHaveLength(1);
      expect((await h.binding(user.id))?.state).toBe('deprovisioned');
      expect(await h.store.get('uniques', `binding:${user.id}`, `binding:${user.id}`)).toBeUndefined();
    });

    it('disables the account of a deleted directory user', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      await h.deleteUser(user.id);
      await h.drain();
      expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(false);
      expect(await h.events('user_deprovision')).toHaveLength(1);
    });

    it('removeAllBindings removes documents and claims without calling Graph, and queued nudges then do nothing', async () => {
      const { user } = await boundAndProvisioned(h);
      const other = await h.addUser();
      await bindUser(h.deps, testConnectionId, other.id);
      h.gateway.calls.length = 0;
      await h.setConnection(testConnectionId, { status: 'deauthorized' });
      expect(await removeAllBindings(h.deps, testConnectionId)).toEqual({ users: 2, groups: 0 });
      await h.drain();
      expect(h.gateway.calls).toHaveLength(0);
      expect(await h.binding(user.id)).toBeUndefined();
      expect(await h.store.get('uniques', `binding:${user.id}`, `binding:${user.id}`)).toBeUndefined();
      expect(await h.store.get('uniques', `binding:${other.id}`, `binding:${other.id}`)).toBeUndefined();
    });
  });

  describe('accounts deleted in Microsoft 365', () => {
    it('re-creates the account under the default policy, with a second create event', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      h.gateway.accounts.delete(m365UserId);
      await h.changeUser(user.id, { firstName: 'Again' });
      await h.drain();
      const binding = await h.binding(user.id);
      expect(binding?.m365UserId).not.toBe(m365UserId);
      expect(h.gateway.accounts.get(binding?.m365UserId as string)?.givenName).toBe('Again');
      expect(await h.events('user_create_provision')).toHaveLength(2);
    });

    it('marks the binding error under the "error" policy', async () => {
      await h.setConnection(testConnectionId, { settings: { exportAttributes: [], conflictPolicy: 'fail', deletedAccountPolicy: 'error', deprovisionAction: 'disable', deleteAfterDays: 30, licenses: [], removeLicensesOnDeprovision: false, revokeSessionsOnDeprovision: true, deactivationGuard: { maxUsers: 50, maxPercent: 10 }, changeGuard: { maxUsers: 500, maxPercent: 10 }, emptyValues: 'keep' } });
      const { user, m365UserId } = await boundAndProvisioned(h);
      h.gateway.accounts.delete(m365UserId);
      await h.changeUser(user.id, { firstName: 'Again' });
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'error', lastError: { code: 'M365_ACCOUNT_DELETED' } });
      expect(h.gateway.calls.some((c) => c.op === 'create' && c.attributes?.givenName === 'Again')).toBe(false);
    });

    it('does not count an account hidden by replication lag as a new one', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      h.gateway.invisible.add(m365UserId);
      await h.changeUser(user.id, { firstName: 'Lagged' });
      await h.drain({ maxDeliveries: 1 });
      h.gateway.invisible.delete(m365UserId);
      await h.drain();
      expect(h.gateway.accounts.size).toBe(1);
      expect((await h.binding(user.id))?.m365UserId).toBe(m365UserId);
      expect(await h.events('user_create_provision')).toHaveLength(1);
      expect(h.gateway.accounts.get(m365UserId)?.givenName).toBe('Lagged');
    });
  });

  describe('failures', () => {
    it('waits without counting a failure while the connection is not active, then resumes', async () => {
      const user = await h.addUser();
      await bindUser(h.deps, testConnectionId, user.id);
      await h.setConnection(testConnectionId, { status: 'reauthorization_required' });
      await h.drain({ maxDeliveries: 3 });
      expect(h.gateway.calls).toHaveLength(0);
      expect(await h.binding(user.id)).toMatchObject({ state: 'pending', attempts: 0 });
      expect(h.queue.pending).toHaveLength(1);

      await h.setConnection(testConnectionId, { status: 'active' });
      await h.drain();
      expect((await h.binding(user.id))?.state).toBe('provisioned');
    });

    it('waits when the token provider reports reauthorization_required', async () => {
      const user = await h.addUser();
      h.gateway.failNext('findByUpn', { kind: 'stop', code: 'reauthorization_required', message: 'consent again', reauthorizationRequired: true });
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'provisioned', attempts: 0 });
      expect(h.settlements[0]).toMatchObject({ kind: 'complete', detail: 'consent again' });
    });

    it('retries a transient failure later by rescheduling, counting the attempt', async () => {
      const user = await h.addUser();
      h.gateway.failNext('create', transient503);
      await bindUser(h.deps, testConnectionId, user.id);
      const start = h.clock.ms;
      await h.drain({ maxDeliveries: 1 });
      expect(await h.binding(user.id)).toMatchObject({ state: 'pending', attempts: 1, lastError: { code: 'serviceNotAvailable' } });
      const retry = h.queue.pending[0];
      expect(retry?.scheduledEnqueueTime?.getTime()).toBeGreaterThanOrEqual(start + 400);
      expect(retry?.messageId).toMatch(/~1$/);
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'provisioned', attempts: 0 });
      expect(h.gateway.accounts.size).toBe(1);
    });

    it('honours Retry-After on a lone 429 without holding up the rest of the connection', async () => {
      const first = await h.addUser();
      const second = await h.addUser();
      h.gateway.failNext('findByUpn', { kind: 'transient', code: 'TooManyRequests', message: 'Please retry again later.', retryAfterMs: 30_000, throttled: true });
      await bindUser(h.deps, testConnectionId, first.id);
      await bindUser(h.deps, testConnectionId, second.id);
      const start = h.clock.ms;
      await h.drain({ maxDeliveries: 2 });
      expect((await h.binding(second.id))?.state).toBe('provisioned');
      expect(h.queue.pending).toHaveLength(1);
      expect(h.queue.pending[0]?.scheduledEnqueueTime?.getTime()).toBeGreaterThanOrEqual(start + 30_000);
      expect((await h.binding(first.id))?.attempts).toBe(0);
      await h.drain();
      expect((await h.binding(first.id))?.state).toBe('provisioned');
    });

    it('makes every worker of the connection wait once most of its latest answers are 429s', async () => {
      const throttled = { kind: 'transient', code: 'TooManyRequests', message: 'Please retry again later.', retryAfterMs: 20_000, throttled: true } as const;
      const users = [await h.addUser(), await h.addUser(), await h.addUser(), await h.addUser()];
      for (let i = 0; i < 3; i += 1) h.gateway.failNext('findByUpn', throttled);
      for (const user of users) await bindUser(h.deps, testConnectionId, user.id);
      const start = h.clock.ms;
      await h.drain({ maxDeliveries: 4 });
      // Three calls were throttled; the fourth nudge waited without calling Graph.
      expect(h.gateway.calls).toHaveLength(3);
      expect(h.queue.pending).toHaveLength(4);
      expect(h.queue.pending.every((m) => (m.scheduledEnqueueTime?.getTime() ?? 0) >= start + 20_000)).toBe(true);
      await h.drain();
      for (const user of users) expect((await h.binding(user.id))?.state).toBe('provisioned');
    });

    it('puts the binding in error with Graph\'s code and message on a 400, and retries only after a change', async () => {
      const user = await h.addUser();
      h.gateway.failNext('create', { kind: 'permanent', code: 'Request_BadRequest', message: 'Property usageLocation has an invalid value.' });
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'error', attempts: 1, lastError: { code: 'Request_BadRequest', message: 'Property usageLocation has an invalid value.' } });
      expect(h.queue.pending).toHaveLength(0);

      const nudge = h.queue.sent[0] as (typeof h.queue.sent)[number];
      h.queue.pending.push({ ...nudge, messageId: 'redelivered', deliveryCount: 0 });
      const calls = h.gateway.calls.length;
      await h.drain();
      expect(h.gateway.calls.length).toBe(calls);

      await h.changeUser(user.id, { lastName: 'Fixed' });
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'provisioned', attempts: 0 });
      expect((await h.binding(user.id))?.lastError).toBeUndefined();
    });

    it('dead-letters after the last attempt and shows error on the binding', async () => {
      h = new ProvisioningHarness({ maxAttempts: 3 });
      await h.addConnection();
      const user = await h.addUser();
      for (let i = 0; i < 3; i += 1) h.gateway.failNext('findByUpn', transient503);
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(h.queue.deadLetters).toHaveLength(1);
      expect(h.queue.deadLetters[0]?.reason).toContain('serviceNotAvailable');
      expect(await h.binding(user.id)).toMatchObject({ state: 'error', attempts: 3, lastError: { code: 'serviceNotAvailable' } });
    });

    it('puts the binding in error when a surprise fails the last delivery', async () => {
      h = new ProvisioningHarness({ maxAttempts: 2 });
      await h.addConnection();
      const user = await h.addUser();
      await bindUser(h.deps, testConnectionId, user.id);
      const findByUpn = h.gateway.findByUpn.bind(h.gateway);
      h.gateway.findByUpn = () => Promise.reject(new Error('store exploded'));
      await h.drain();
      h.gateway.findByUpn = findByUpn;
      expect(h.queue.deadLetters).toHaveLength(1);
      expect(await h.binding(user.id)).toMatchObject({ state: 'error', lastError: { code: 'INTERNAL', message: 'store exploded' } });
    });

    it('dead-letters a message that is not a provisioning message', async () => {
      h.queue.pending.push({ messageId: 'junk', body: { kind: 'user', userId: 'x' }, deliveryCount: 0 });
      await h.drain();
      expect(h.queue.deadLetters[0]?.reason).toMatch(/^not a provisioning message/);
    });
  });

  describe('exactly once', () => {
    it('takes over the account its lost create made, with no second account and no second event', async () => {
      const user = await h.addUser();
      h.gateway.failNext('create', { kind: 'transient', code: 'ECONNRESET', message: 'socket hang up', throttled: false }, { afterApplying: true });
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(h.gateway.accounts.size).toBe(1);
      expect(h.gateway.calls.filter((c) => c.op === 'create')).toHaveLength(1);
      expect(await h.events('user_create_provision')).toHaveLength(1);
      expect((await h.binding(user.id))?.state).toBe('provisioned');
    });

    it('records the event of a PATCH whose answer was lost once, without writing again', async () => {
      await h.setConnection(testConnectionId, { settings: { exportAttributes: ['jobTitle'], conflictPolicy: 'fail', deletedAccountPolicy: 'recreate', deprovisionAction: 'disable', deleteAfterDays: 30, licenses: [], removeLicensesOnDeprovision: false, revokeSessionsOnDeprovision: true, deactivationGuard: { maxUsers: 50, maxPercent: 10 }, changeGuard: { maxUsers: 500, maxPercent: 10 }, emptyValues: 'keep' } });
      const { user } = await boundAndProvisioned(h);
      h.gateway.failNext('update', transient503, { afterApplying: true });
      await h.changeUser(user.id, { jobTitle: 'CTO' });
      await h.drain();
      expect(h.gateway.writes().filter((c) => c.op === 'update')).toHaveLength(1);
      expect(await h.events('user_update_provision')).toHaveLength(1);
    });

    it('finishes the create event of a run that died after Graph answered but before the binding was written', async () => {
      const user = await h.addUser();
      await bindUser(h.deps, testConnectionId, user.id);
      // The run dies right after recording the event: the binding write never happens.
      const replace = h.store.replace.bind(h.store);
      let failures = 0;
      h.store.replace = (async (...args: Parameters<typeof replace>) => {
        if (args[0] === 'bindings' && failures === 0) {
          failures += 1;
          throw new Error('process killed');
        }
        return replace(...args);
      }) as typeof replace;
      await h.drain();
      expect(h.gateway.accounts.size).toBe(1);
      expect(await h.events('user_create_provision')).toHaveLength(1);
      expect((await h.binding(user.id))?.state).toBe('provisioned');
    });

    it('adopts an account whose create answered "exists" while reads could not see it yet', async () => {
      const user = await h.addUser({ email: 'lag@contoso.com' });
      const hidden = h.gateway.seed({ userPrincipalName: 'lag@contoso.com', mailNickname: 'lag', displayName: 'Person Number1', givenName: 'Person', surname: 'Number1' });
      h.gateway.invisible.add(hidden);
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain({ maxDeliveries: 1 });
      expect(await h.binding(user.id)).toMatchObject({ state: 'pending', attempts: 1 });
      h.gateway.invisible.delete(hidden);
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'provisioned', m365UserId: hidden });
      expect(h.gateway.accounts.size).toBe(1);
      expect(await h.events('user_create_provision')).toHaveLength(1);
    });
  });
});

describe('binding refusals', () => {
  it('refuses a connection that is not active (409), a domain it does not claim (422) and a user bound to another connection (409)', async () => {
    const h = new ProvisioningHarness();
    await h.addConnection();
    await h.addConnection({ id: 'conn-other', domains: ['contoso.net'] });
    const user = await h.addUser();
    expect(await bindUser(h.deps, 'conn-other', user.id)).toEqual({ ok: false, error: expect.objectContaining({ code: 'domain_not_claimed' }) });
    await h.setConnection(testConnectionId, { status: 'reauthorization_required' });
    expect(await bindUser(h.deps, testConnectionId, user.id)).toEqual({ ok: false, error: expect.objectContaining({ code: 'connection_not_active' }) });
    await h.setConnection(testConnectionId, { status: 'active' });
    expect((await bindUser(h.deps, testConnectionId, user.id)).ok).toBe(true);
    // The domain moves to the other connection while the user stays bound here.
    await h.setConnection('conn-other', { domains: ['contoso.com'] });
    expect(await bindUser(h.deps, 'conn-other', user.id)).toEqual({ ok: false, error: expect.objectContaining({ code: 'bound_elsewhere', connectionId: testConnectionId }) });
    // Once unbound here, the claim is free.
    await unbindUser(h.deps, testConnectionId, user.id);
    expect((await bindUser(h.deps, 'conn-other', user.id)).ok).toBe(true);
  });

  it('binding again is harmless: no second nudge for a binding with nothing outstanding, no second notice', async () => {
    const h = new ProvisioningHarness();
    await h.addConnection();
    const user = await h.addUser();
    await bindUser(h.deps, testConnectionId, user.id);
    await h.drain();
    const sent = h.queue.sent.length;
    expect((await bindUser(h.deps, testConnectionId, user.id)).ok).toBe(true);
    expect(h.queue.sent.length).toBe(sent);
    expect(h.notices).toHaveLength(1);
  });
});
