import type { ContainerName, DocumentStore } from '../ports/document-store';
import { mapConcurrently } from '../reconcile/map-concurrently';
import type { Group } from './group-schemas';
import type { UserRecord } from './user-records';

/** Who a user is, as a list shows them next to their id: read from the directory when the list is. */
export interface UserSummary {
  readonly email: string;
  readonly displayName: string;
}

/** What a group is called, as a list shows it next to its id. */
export interface GroupSummary {
  readonly name: string;
}

/** An item of a list with who its user (and group) are; absent when they are no longer in the directory. */
export type Named<T> = T & { readonly user?: UserSummary; readonly group?: GroupSummary };

/** Point reads in flight at once: a page holds at most 500 items. */
const concurrentReads = 50;

/**
 * Reads each distinct id once (`users` and `groups` are partitioned by id, so a page costs one point
 * read per distinct user or group, never one per item), and keeps what `pick` takes of each found.
 */
async function readEach<D, S>(store: DocumentStore, container: ContainerName, ids: ReadonlySet<string>, pick: (data: D) => S): Promise<Map<string, S>> {
  const docs = await mapConcurrently([...ids], concurrentReads, (id) => store.get<D>(container, id, id));
  return new Map(docs.flatMap((doc) => (doc === undefined ? [] : [[doc.id, pick(doc.data)] as const])));
}

/**
 * Adds `user: { email, displayName }` to each item with a `userId`, and `group: { name }` to each
 * with a `groupId`, as the directory holds them now; an item whose user or group was deleted keeps
 * only its id.
 */
export async function withNames<T extends { readonly userId?: string | undefined; readonly groupId?: string | undefined }>(store: DocumentStore, items: readonly T[]): Promise<Named<T>[]> {
  const userIds = new Set(items.flatMap((item) => (item.userId === undefined ? [] : [item.userId])));
  const groupIds = new Set(items.flatMap((item) => (item.groupId === undefined ? [] : [item.groupId])));
  const [users, groups] = await Promise.all([
    readEach<UserRecord, UserSummary>(store, 'users', userIds, (user) => ({ email: user.email, displayName: user.displayName })),
    readEach<Group, GroupSummary>(store, 'groups', groupIds, (group) => ({ name: group.name })),
  ]);
  return items.map((item) => {
    const user = item.userId === undefined ? undefined : users.get(item.userId);
    const group = item.groupId === undefined ? undefined : groups.get(item.groupId);
    return { ...item, ...(user === undefined ? {} : { user }), ...(group === undefined ? {} : { group }) };
  });
}
