import type { DirectoryChange, DirectoryHooks } from '../directory/directory-hooks';
import type { Logger } from '../ports/logger';
import { groupBindingsOf } from '../provisioning/bind-group';
import { boundConnectionOf } from '../provisioning/bind-user';
import { readUserBinding } from '../provisioning/binding-records';
import { nudgeGroupSync, type GroupSyncNudgeDeps, type GroupSyncReason } from './group-sync-nudges';

export interface GroupSyncHooksDeps extends GroupSyncNudgeDeps {
  readonly logger: Logger;
}

/**
 * Group sync's part in directory changes: a bound group whose members, name or description change,
 * or one of whose members is suspended or re-activated, is nudged on every connection it is bound
 * to. Register it after provisioning's hooks, so member bindings already show the change's work.
 */
export function createGroupSyncHooks(deps: GroupSyncHooksDeps): Pick<DirectoryHooks, 'onChange'> {
  const nudgeBindings = async (groupId: string, reason: GroupSyncReason): Promise<void> => {
    for (const binding of await groupBindingsOf(deps, groupId)) {
      if (binding.expansion !== 'unbinding') await nudgeGroupSync(deps, binding.connectionId, groupId, reason);
    }
  };

  const handle = async (change: DirectoryChange): Promise<void> => {
    switch (change.type) {
      case 'group.member_added':
      case 'group.member_removed':
        await nudgeBindings(change.groupId, 'membership');
        return;
      case 'group.updated':
        await nudgeBindings(change.groupId, 'group_changed');
        return;
      case 'user.suspended':
      case 'user.activated': {
        // A suspended member leaves the Microsoft 365 groups it is in through bound groups; re-activated, it returns.
        const connectionId = await boundConnectionOf(deps.store, change.userId);
        if (connectionId === undefined) return;
        const binding = await readUserBinding(deps.store, connectionId, change.userId);
        for (const groupId of binding?.data.via.groups ?? []) await nudgeGroupSync(deps, connectionId, groupId, 'member_state');
        return;
      }
      // Binding, unbinding and deleting a group nudge from the binding itself (bind-group).
      case 'group.created':
      case 'group.deleted':
      case 'user.created':
      case 'user.updated':
      case 'user.deleted':
      case 'user.password_changed':
        return;
    }
  };

  return {
    async onChange(change) {
      try {
        await handle(change);
      } catch (error) {
        // The directory change is committed; the reconciler repairs what a lost nudge missed.
        deps.logger.error('could not nudge group sync for a directory change', { type: change.type, error: error instanceof Error ? error.message : String(error) });
      }
    },
  };
}
