import { connectionSettingsSchema, type ConnectionSettings } from '../../../src/domain/connections/connection';
import { toUser, type UserRecord } from '../../../src/domain/directory/user-records';
import { attachUser, bindUser, detachUser, nudgeUser, readConnection, unbindUser } from '../../../src/domain/provisioning/bind-user';
import { mutateDocument } from '../../../src/domain/provisioning/binding-records';
import { groupBindingId, type GroupBindingRecord } from '../../../src/domain/provisioning/binding';
import { ProvisioningHarness, testConnectionId } from './provisioning-harness';

const transient503 = { kind: 'transient', code: 'serviceNotAvailable', message: 'Service unavailable', throttled: false } as const;

async function settings(h: ProvisioningHarness, change: Partial<ConnectionSettings>): Promise<void> {
  await h.setConnection(testConnectionId, { settings: { ...connectionSettingsSchema.parse({}), ...change } });
}

async function boundAndProvisioned(h: ProvisioningHarness) {
  const user = await h.addUser();
  expect((await bindUser(h.deps, testConnectionId, user.id)).ok).toBe(true);
  await h.drain();
  const binding = await h.binding(user.id);
  expect(binding?.state).toBe('provisioned');
  return { user, m365UserId: binding?.m365UserId as string };
}

describe('account lifecycle', () => {
  let h: ProvisioningHarness;

  beforeEach(async () => {
    h = new ProvisioningHarness();
    await h.addConnection();
  });

  describe('sign-out on deprovision', () => {
    it('revokes the sessions of a suspended user after disabling the account, and says so in the deprovision event', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      await h.changeUser(user.id, { state: 'suspended' }, 'user.suspended');
      await h.drain();
      const writes = h.gateway.writes().filter((c) => c.id === m365UserId);
      expect(writes.map((c) => c.op)).toEqual(['update', 'revokeSessions']);
      expect(writes[0]?.attributes).toEqual({ accountEnabled: false });
      expect(await h.events('user_deprovision')).toEqual([expect.objectContaining({ changedAttributes: ['accountEnabled'], sessionsRevoked: true })]);
    });

    it('revokes the sessions on unbind', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      await unbindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(h.gateway.revocations.get(m365UserId)).toBe(1);
      expect(await h.events('user_deprovision')).toEqual([expect.objectContaining({ sessionsRevoked: true })]);
    });

    it('leaves the sessions alone when revokeSessionsOnDeprovision is false', async () => {
      await settings(h, { revokeSessionsOnDeprovision: false });
      const { user, m365UserId } = await boundAndProvisioned(h);
      await unbindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(false);
      expect(h.gateway.revocations.get(m365UserId)).toBeUndefined();
      const [event] = await h.events('user_deprovision');
      expect(event).toBeDefined();
      expect(event?.sessionsRevoked).toBeUndefined();
    });

    it('revokes on the next run when the revocation failed after the account was disabled, with one event', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      h.gateway.failNext('revokeSessions', transient503);
      await h.changeUser(user.id, { state: 'suspended' }, 'user.suspended');
      await h.drain();
      expect(h.gateway.revocations.get(m365UserId)).toBe(1);
      expect(h.gateway.writes().filter((c) => c.op === 'update' && c.id === m365UserId)).toHaveLength(1);
      expect(await h.events('user_deprovision')).toHaveLength(1);
      expect((await h.binding(user.id))?.state).toBe('deprovisioned');
    });

    it('does not revoke anything when the user is re-activated', async () => {
      const { user, m365UserId } = await boundAndProvisioned(h);
      await h.changeUser(user.id, { state: 'suspended' }, 'user.suspended');
      await h.drain();
      await h.changeUser(user.id, { state: 'active' }, 'user.activated');
      await h.drain();
      expect(h.gateway.revocations.get(m365UserId)).toBe(1);
      expect(h.gateway.accounts.get(m365UserId)?.accountEnabled).toBe(true);
    });
  });

  describe('licences', () => {
    const e3 = { skuId: '6fd2c87f-b296-42f0-b197-1e91e994b900', skuPartNumber: 'ENTERPRISEPACK' };
    const e5 = { skuId: 'c7df2760-2c81-4ef7-b578-5b5392b571df', skuPartNumber: 'ENTERPRISEPREMIUM' };

    beforeEach(() => {
      h.gateway.skus.push({ ...e3, enabled: 2 }, { ...e5, enabled: 5 });
    });

    const licensesOf = (m365UserId: string) => ((h.gateway.accounts.get(m365UserId)?.assignedLicenses ?? []) as { skuId: string }[]).map((l) => l.skuId);

    /** A group binding carrying licences, as binding the group with a body stores it (membership is the test's business). */
    async function groupWithLicenses(groupId: string, licenses: { skuPartNumber: string }[]): Promise<void> {
      const now = h.clock.now().toISOString();
      await mutateDocument<GroupBindingRecord>(h.store, 'bindings', testConnectionId, groupBindingId(groupId), () => ({ kind: 'group', connectionId: testConnectionId, groupId, expansion: 'bound', boundMembers: 0, skippedMembers: 0, licenses, createdAt: now, updatedAt: now }));
    }

    it("assigns the connection's licences with the usage location, once, and records user_license_provision", async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      const { user, m365UserId } = await boundAndProvisioned(h);
      expect(licensesOf(m365UserId)).toEqual([e3.skuId]);
      expect(await h.events('user_license_provision')).toEqual([expect.objectContaining({ userId: user.id, addedLicenses: ['ENTERPRISEPACK'], removedLicenses: [] })]);
      expect((await h.binding(user.id))?.licenses).toEqual([e3]);

      await h.changeUser(user.id, { firstName: 'Again' });
      await h.drain();
      expect(h.gateway.calls.filter((c) => c.op === 'assignLicenses')).toHaveLength(1);
      expect(await h.events('user_license_provision')).toHaveLength(1);
    });

    it('fails clearly when the account has no usage location and the connection sets none', async () => {
      await settings(h, { licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      const user = await h.addUser();
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      const binding = await h.binding(user.id);
      expect(binding).toMatchObject({ state: 'error', lastError: { code: 'USAGE_LOCATION_REQUIRED' } });
      expect(binding?.lastError?.message).toMatch(/usageLocation/);
      expect(h.gateway.calls.some((c) => c.op === 'assignLicenses')).toBe(false);
    });

    it('shows LICENSE_UNAVAILABLE naming the SKU when no seat is free, and assigns once one is', async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      await boundAndProvisioned(h);
      await boundAndProvisioned(h);
      const third = await h.addUser();
      await bindUser(h.deps, testConnectionId, third.id);
      await h.drain();
      const binding = await h.binding(third.id);
      expect(binding).toMatchObject({ state: 'error', lastError: { code: 'LICENSE_UNAVAILABLE' } });
      expect(binding?.lastError?.message).toContain('ENTERPRISEPACK');

      (h.gateway.skus[0] as { enabled: number }).enabled = 3;
      await bindUser(h.deps, testConnectionId, third.id);
      await h.drain();
      expect(await h.binding(third.id)).toMatchObject({ state: 'provisioned', licenses: [e3] });
    });

    it('a group carrying a SKU gives it to the users bound through it and takes it back when they leave', async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      await groupWithLicenses('sales', [{ skuPartNumber: 'ENTERPRISEPREMIUM' }]);
      const user = await h.addUser();
      const connection = (await readConnection(h.store, testConnectionId))!;
      const directory = toUser(user as UserRecord);
      await attachUser(h.deps, connection, directory, { direct: true });
      await attachUser(h.deps, connection, directory, { groupId: 'sales' });
      await h.drain();
      const m365UserId = (await h.binding(user.id))?.m365UserId as string;
      expect(licensesOf(m365UserId).sort()).toEqual([e3.skuId, e5.skuId].sort());

      await detachUser(h.deps, testConnectionId, user.id, { groupId: 'sales' }, 'group_membership');
      // Still bound directly: the group's licence goes, the connection's stays.
      await nudgeUser(h.deps, testConnectionId, user.id, 'group_membership');
      await h.drain();
      expect(licensesOf(m365UserId)).toEqual([e3.skuId]);
      expect(await h.events('user_license_provision')).toEqual(expect.arrayContaining([expect.objectContaining({ addedLicenses: [], removedLicenses: ['ENTERPRISEPREMIUM'] })]));
    });

    it('never removes a licence an admin assigned by hand', async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      const { user, m365UserId } = await boundAndProvisioned(h);
      (h.gateway.accounts.get(m365UserId) as { assignedLicenses: unknown[] }).assignedLicenses.push({ skuId: e5.skuId, disabledPlans: [] });
      await settings(h, { usageLocation: 'GB', licenses: [] });
      await h.changeUser(user.id, { firstName: 'Again' });
      await h.drain();
      expect(licensesOf(m365UserId)).toEqual([e5.skuId]);
    });

    it('removes its licences on deprovision when removeLicensesOnDeprovision is set, and keeps them otherwise', async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      const kept = await boundAndProvisioned(h);
      await unbindUser(h.deps, testConnectionId, kept.user.id);
      await h.drain();
      expect(licensesOf(kept.m365UserId)).toEqual([e3.skuId]);

      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }], removeLicensesOnDeprovision: true });
      const freed = await boundAndProvisioned(h);
      await h.changeUser(freed.user.id, { state: 'suspended' }, 'user.suspended');
      await h.drain();
      expect(licensesOf(freed.m365UserId)).toEqual([]);
      expect(await h.events('user_license_provision')).toEqual(expect.arrayContaining([expect.objectContaining({ userId: freed.user.id, removedLicenses: ['ENTERPRISEPACK'] })]));
    });

    it('marks the connection for a consent upgrade when Graph refuses the SKUs with 403, and provisions the rest', async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      h.gateway.failNext('subscribedSkus', { kind: 'stop', code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.', reauthorizationRequired: false });
      const user = await h.addUser();
      await bindUser(h.deps, testConnectionId, user.id);
      await h.drain();
      expect(await h.binding(user.id)).toMatchObject({ state: 'provisioned', note: expect.stringMatching(/consent/) });
      const connection = await h.store.get<{ status: string; consentUpgrade?: { permissions: string[] } }>('connections', testConnectionId, testConnectionId);
      expect(connection?.data.status).toBe('active');
      expect(connection?.data.consentUpgrade?.permissions).toEqual(['Organization.Read.All']);
    });

    it('records the licence event once when the answer to assignLicense was lost', async () => {
      await settings(h, { usageLocation: 'GB', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] });
      h.gateway.failNext('assignLicenses', transient503, { afterApplying: true });
      const { m365UserId } = await boundAndProvisioned(h);
      expect(licensesOf(m365UserId)).toEqual([e3.skuId]);
      expect(h.gateway.calls.filter((c) => c.op === 'assignLicenses')).toHaveLength(1);
      expect(await h.events('user_license_provision')).toHaveLength(1);
    });
  });
});
