import { claimHolder } from '../connections/connection-claims';
import type { DirectoryChange, DirectoryHooks } from '../directory/directory-hooks';
import type { SecretStore } from '../ports/secret-store';
import { err, ok } from '../result';
import { touchesMappedFields } from './attribute-mapping';
import { isBound, pendingPasswordSecretName } from './binding';
import { readUserBinding } from './binding-records';
import { bindMember, groupBindingsOf, startUnbinding } from './bind-group';
import { boundConnectionOf, detachUser, emailDomain, nudgeUser, readConnection, type BindingDeps } from './bind-user';
import type { NudgeReason } from './nudges';

export interface ProvisioningHooksDeps extends BindingDeps {
  readonly secrets: SecretStore;
}

/** How long a handed-off password waits for the worker before it is dropped. */
export const pendingPasswordTtlMs = 24 * 60 * 60 * 1000;

const userReasons: Partial<Record<DirectoryChange['type'], NudgeReason>> = {
  'user.suspended': 'suspend',
  'user.activated': 'activate',
};

/**
 * Provisioning's part in directory changes: every change that matters to a bound user nudges the
 * worker, memberships of bound groups bind and unbind, email changes stay within the user's
 * connection, and new passwords reach the worker through a short-lived secret.
 */
export function createProvisioningHooks(deps: ProvisioningHooksDeps): DirectoryHooks {
  const nudgeBoundUser = async (userId: string, reason: NudgeReason): Promise<void> => {
    const connectionId = await boundConnectionOf(deps.store, userId);
    if (connectionId !== undefined) await nudgeUser(deps, connectionId, userId, reason);
  };

  const handle = async (change: DirectoryChange): Promise<void> => {
    switch (change.type) {
      case 'user.updated': {
        // A field no rule of the connection maps (the username, a manager without the manager rule) changes nothing there.
        const connectionId = await boundConnectionOf(deps.store, change.userId);
        const connection = connectionId === undefined ? undefined : await readConnection(deps.store, connectionId);
        if (connection !== undefined && touchesMappedFields(change.changedFields, new Set(connection.settings.exportAttributes))) await nudgeUser(deps, connection.id, change.userId, 'user_changed');
        return;
      }
      case 'user.suspended':
      case 'user.activated':
        await nudgeBoundUser(change.userId, userReasons[change.type] as NudgeReason);
        return;
      case 'user.deleted': {
        const connectionId = await boundConnectionOf(deps.store, change.userId);
        if (connectionId !== undefined) await detachUser(deps, connectionId, change.userId, 'all', 'user_deleted');
        return;
      }
      case 'group.member_added':
        for (const binding of await groupBindingsOf(deps, change.groupId)) {
          if (binding.expansion === 'unbinding') continue;
          const connection = await readConnection(deps.store, binding.connectionId);
          if (connection !== undefined) await bindMember(deps, connection, change.groupId, change.userId);
        }
        return;
      case 'group.member_removed':
        for (const binding of await groupBindingsOf(deps, change.groupId)) {
          await detachUser(deps, binding.connectionId, change.userId, { groupId: change.groupId }, 'group_membership');
        }
        return;
      case 'group.deleted':
        for (const binding of await groupBindingsOf(deps, change.groupId)) await startUnbinding(deps, binding.connectionId, change.groupId);
        return;
      // The password arrives through handOffPassword; a user without a binding needs nothing.
      case 'user.password_changed':
      case 'user.created':
      case 'group.created':
      case 'group.updated':
        return;
    }
  };

  return {
    async onChange(change) {
      try {
        await handle(change);
      } catch (error) {
        // The directory change is committed; the reconciliation timer catches what a lost nudge missed.
        deps.logger.error('could not nudge provisioning for a directory change', { type: change.type, error: error instanceof Error ? error.message : String(error) });
      }
    },

    async checkEmailChange(user, newEmail) {
      const connectionId = await boundConnectionOf(deps.store, user.id);
      if (connectionId === undefined) return ok(undefined);
      const binding = await readUserBinding(deps.store, connectionId, user.id);
      if (binding === undefined || !isBound(binding.data.via)) return ok(undefined);
      const connection = await readConnection(deps.store, connectionId);
      const domain = emailDomain(newEmail);
      if (connection === undefined || connection.domains.includes(domain)) return ok(undefined);
      const holder = await claimHolder(deps, 'domain', domain);
      return err({
        reason:
          holder === undefined
            ? `the user is bound to connection ${connectionId}, which does not claim ${domain}, and no connection does; unbind the user first`
            : `the user is bound to connection ${connectionId}, but ${domain} belongs to connection ${holder}; unbind the user first`,
      });
    },

    async handOffPassword(userId, password) {
      const connectionId = await boundConnectionOf(deps.store, userId);
      if (connectionId === undefined) return;
      const expiresAt = new Date(deps.clock.now().getTime() + pendingPasswordTtlMs);
      await deps.secrets.set(pendingPasswordSecretName(userId), password, { expiresAt });
      await nudgeUser(deps, connectionId, userId, 'password', { passwordPending: true });
    },
  };
}
