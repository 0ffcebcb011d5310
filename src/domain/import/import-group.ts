import type { ConnectionRecord } from '../connections/connection';
import { createGroupSchema, type CreateGroupInput } from '../directory/group-schemas';
import { createGroup, findGroupByName } from '../directory/groups';
import type { GroupBindingRecord } from '../provisioning/binding';
import { readGroupBinding } from '../provisioning/binding-records';
import { ImportRetryError, type ImportUserDeps } from './import-user';
import type { M365Group } from './m365-directory';

export type GroupOutcome =
  | { readonly outcome: 'imported'; readonly groupId: string; readonly linked?: true }
  | { readonly outcome: 'skipped'; readonly groupId: string; readonly reason: string }
  | { readonly outcome: 'failed'; readonly reason: string };

export const groupNameConflictReason = 'a group with the same name already exists';

/** Security groups only (DESIGN.md point 11): not mail-enabled, so neither Microsoft 365 groups nor distribution lists. */
export function isSecurityGroup(group: M365Group): boolean {
  return group.securityEnabled === true && group.mailEnabled !== true && !(group.groupTypes ?? []).includes('Unified');
}

function directoryInput(group: M365Group): CreateGroupInput | undefined {
  const description = group.description?.trim();
  const parsed = createGroupSchema.safeParse({ name: group.displayName, ...(description === undefined || description === '' ? {} : { description: description.slice(0, 1024) }) });
  return parsed.success ? parsed.data : undefined;
}

async function anchoredBinding(deps: ImportUserDeps, connectionId: string, m365GroupId: string): Promise<GroupBindingRecord | undefined> {
  const found = await deps.store.query<GroupBindingRecord>('bindings', {
    pk: connectionId,
    where: [
      { field: 'kind', op: 'eq', value: 'group' },
      { field: 'm365GroupId', op: 'eq', value: m365GroupId },
    ],
    limit: 1,
  });
  return found.items[0]?.data;
}

/**
 * Settles the directory group a Microsoft 365 security group becomes: the one already bound to it
 * (skipped), the one this page created before a crash (`plannedGroupId`), an existing group of the
 * same name (linked under the conflict policy `link`, failed under `fail`), or a new one. The group
 * binding itself comes once its members are in (see the worker), so binding them does not race
 * their import.
 */
export async function settleGroup(deps: ImportUserDeps, connection: ConnectionRecord, group: M365Group, plannedGroupId: string): Promise<GroupOutcome> {
  if (!isSecurityGroup(group)) return { outcome: 'failed', reason: 'not a security group: only security groups that are not mail-enabled are imported' };
  const anchored = await anchoredBinding(deps, connection.id, group.id);
  if (anchored !== undefined && anchored.expansion !== 'unbinding') {
    return anchored.groupId === plannedGroupId ? { outcome: 'imported', groupId: plannedGroupId } : { outcome: 'skipped', groupId: anchored.groupId, reason: 'already imported' };
  }
  const input = directoryInput(group);
  if (input === undefined) return { outcome: 'failed', reason: `the directory cannot take a group named "${group.displayName}"` };
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const existing = await findGroupByName(deps, input.name);
    if (existing !== undefined) {
      if (existing.value.id === plannedGroupId) return { outcome: 'imported', groupId: plannedGroupId };
      if (connection.settings.conflictPolicy === 'fail') return { outcome: 'failed', reason: groupNameConflictReason };
      const binding = await readGroupBinding(deps.store, connection.id, existing.value.id);
      if (binding !== undefined && binding.data.expansion !== 'unbinding' && binding.data.m365GroupId !== undefined && binding.data.m365GroupId !== group.id) {
        return { outcome: 'failed', reason: `${groupNameConflictReason} and is bound to another Microsoft 365 group (${binding.data.m365GroupId})` };
      }
      return { outcome: 'imported', groupId: existing.value.id, linked: true };
    }
    const created = await createGroup(deps, input, { id: plannedGroupId });
    if (created.ok) return { outcome: 'imported', groupId: plannedGroupId };
    // Taken by a group created meanwhile: judged as the existing group it now is.
    if (created.error.code !== 'group_name_taken') throw new ImportRetryError(`the directory refused the group ${input.name}: ${created.error.code}`);
  }
  throw new ImportRetryError(`the group name ${input.name} was taken and released while importing`);
}
