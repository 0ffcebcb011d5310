import { connectionSettingsSchema, type ConnectionSettings } from '../../../src/domain/connections/connection';
import { bindUser, unbindUser } from '../../../src/domain/provisioning/bind-user';
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
});
