import { InvalidCursorError } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import type { DirectoryDeps, Page } from './directory-deps';
import type { DirectoryFailure } from './directory-failures';
import { readUser, toUser } from './user-records';
import type { User } from './user-schemas';

/*
 * One small document per member in `memberships` (pk = group id, id = user id): a group of 50,000
 * members is 50,000 documents of a few hundred bytes, never one document growing towards Cosmos DB's
 * 2 MB item limit, and adding or removing a member is a single create or delete.
 */

interface MembershipRecord {
  readonly groupId: string;
  readonly userId: string;
  readonly addedAt: string;
}

export interface GroupMember {
  readonly userId: string;
  readonly addedAt: string;
}

// A page size for internal sweeps (the store's maximum).
const sweepPageSize = 1000;
// Deletes in flight at once during a sweep.
const sweepConcurrency = 32;

async function groupExists(deps: DirectoryDeps, groupId: string): Promise<boolean> {
  return (await deps.store.get('groups', groupId, groupId)) !== undefined;
}

/** Adds a user to a group; adding a member twice changes nothing (`added: false`). */
export async function addGroupMember(deps: DirectoryDeps, groupId: string, userId: string): Promise<Result<{ added: boolean }, DirectoryFailure>> {
  if (!(await groupExists(deps, groupId))) return err({ code: 'group_not_found', groupId });
  if ((await readUser(deps, userId)) === undefined) return err({ code: 'user_not_found', userId });
  const addedAt = deps.clock.now().toISOString();
  const created = await deps.store.create<MembershipRecord>('memberships', groupId, userId, { groupId, userId, addedAt });
  if (!created.ok) return ok({ added: false });
  // Deleting the group or the user sweeps memberships; one added during the sweep must not outlive it.
  const [groupStillExists, userStillExists] = await Promise.all([groupExists(deps, groupId), readUser(deps, userId)]);
  if (!groupStillExists || userStillExists === undefined) {
    await deps.store.delete('memberships', groupId, userId);
    return err(groupStillExists ? { code: 'user_not_found', userId } : { code: 'group_not_found', groupId });
  }
  await deps.directoryHooks.onChange({ type: 'group.member_added', groupId, userId, occurredAt: addedAt });
  return ok({ added: true });
}

/** Removes a user from a group; removing a non-member changes nothing (`removed: false`). */
export async function removeGroupMember(deps: DirectoryDeps, groupId: string, userId: string): Promise<Result<{ removed: boolean }, DirectoryFailure>> {
  if (!(await groupExists(deps, groupId))) return err({ code: 'group_not_found', groupId });
  const deleted = await deps.store.delete('memberships', groupId, userId);
  if (!deleted.ok) return ok({ removed: false });
  await deps.directoryHooks.onChange({ type: 'group.member_removed', groupId, userId, occurredAt: deps.clock.now().toISOString() });
  return ok({ removed: true });
}

/** A page of a group's member ids, ordered by user id. */
export async function listGroupMemberIds(deps: DirectoryDeps, groupId: string, page: { limit: number; cursor?: string }): Promise<Result<Page<GroupMember>, DirectoryFailure>> {
  if (!(await groupExists(deps, groupId))) return err({ code: 'group_not_found', groupId });
  try {
    const result = await deps.store.query<MembershipRecord>('memberships', { pk: groupId, limit: page.limit, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) });
    return ok({
      items: result.items.map((doc) => ({ userId: doc.data.userId, addedAt: doc.data.addedAt })),
      ...(result.nextCursor === undefined ? {} : { nextCursor: result.nextCursor }),
    });
  } catch (error) {
    if (error instanceof InvalidCursorError) return err({ code: 'invalid_cursor' });
    throw error;
  }
}

/** A page of a group's members as users. */
export async function listGroupMembers(deps: DirectoryDeps, groupId: string, page: { limit: number; cursor?: string }): Promise<Result<Page<User>, DirectoryFailure>> {
  const ids = await listGroupMemberIds(deps, groupId, page);
  if (!ids.ok) return ids;
  const users = await Promise.all(ids.value.items.map((member) => readUser(deps, member.userId)));
  return ok({
    // A user deleted while this page was read is left out rather than shown half-gone.
    items: users.flatMap((doc) => (doc === undefined ? [] : [toUser(doc.data)])),
    ...(ids.value.nextCursor === undefined ? {} : { nextCursor: ids.value.nextCursor }),
  });
}

async function membershipGroupIds(deps: Pick<DirectoryDeps, 'store'>, userId: string): Promise<string[]> {
  const groupIds: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<MembershipRecord>('memberships', {
      where: [{ field: 'userId', op: 'eq', value: userId }],
      limit: sweepPageSize,
      ...(cursor === undefined ? {} : { cursor }),
    });
    groupIds.push(...page.items.map((doc) => doc.data.groupId));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return groupIds;
}

/** Every group the user is a member of (a cross-partition query: a user is in a handful of groups). */
export async function listGroupsOfUser(deps: Pick<DirectoryDeps, 'store'>, userId: string): Promise<string[]> {
  const groupIds = await membershipGroupIds(deps, userId);
  // A membership whose group is gone is the leftover of an interrupted group delete.
  const live = await Promise.all(groupIds.map(async (groupId) => ((await deps.store.get('groups', groupId, groupId)) === undefined ? [] : [groupId])));
  return live.flat();
}

/** Removes a deleted user from every group, announcing each removal. */
export async function removeMembershipsOfUser(deps: DirectoryDeps, userId: string): Promise<void> {
  for (const groupId of await membershipGroupIds(deps, userId)) {
    const deleted = await deps.store.delete('memberships', groupId, userId);
    if (deleted.ok) await deps.directoryHooks.onChange({ type: 'group.member_removed', groupId, userId, occurredAt: deps.clock.now().toISOString() });
  }
}

/** Deletes every membership of a deleted group, a page at a time (no per-member announcements: the group is gone). */
export async function deleteMembershipsOfGroup(deps: Pick<DirectoryDeps, 'store'>, groupId: string): Promise<void> {
  for (;;) {
    const page = await deps.store.query<MembershipRecord>('memberships', { pk: groupId, limit: sweepPageSize });
    if (page.items.length === 0) return;
    for (let start = 0; start < page.items.length; start += sweepConcurrency) {
      await Promise.all(page.items.slice(start, start + sweepConcurrency).map((doc) => deps.store.delete('memberships', groupId, doc.id)));
    }
  }
}
