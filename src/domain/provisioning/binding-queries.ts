import { InvalidCursorError, type Condition, type DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { bindingStates, toGroupBindingView, toUserBindingView, type BindingError, type BindingState, type GroupBindingRecord, type GroupBindingView, type UserBindingRecord, type UserBindingView } from './binding';
import { readGroupBinding, readUserBinding } from './binding-records';
import { groupSyncRecordId, type GroupSyncRecord } from '../group-sync/group-sync-record';
import { readConnection } from './bind-user';
import { withNames, type Named } from '../directory/directory-names';

export type BindingQueryFailure = { readonly code: 'connection_not_found' | 'binding_not_found' | 'invalid_cursor'; readonly message: string };

interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

async function connectionExists(store: DocumentStore, connectionId: string): Promise<boolean> {
  return (await readConnection(store, connectionId)) !== undefined;
}

/** One user's binding, with who the user is (absent once they are deleted from the directory). */
export async function getUserBinding(deps: { readonly store: DocumentStore }, connectionId: string, userId: string): Promise<Result<Named<UserBindingView>, BindingQueryFailure>> {
  if (!(await connectionExists(deps.store, connectionId))) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  const doc = await readUserBinding(deps.store, connectionId, userId);
  if (doc === undefined) return err({ code: 'binding_not_found', message: `user ${userId} is not bound to connection ${connectionId}` });
  const [named] = await withNames(deps.store, [toUserBindingView(doc.data)]);
  return ok(named as Named<UserBindingView>);
}

async function page<T, V>(store: DocumentStore, connectionId: string, where: Condition[], query: { limit: number; cursor?: string }, view: (record: T) => V): Promise<Result<Page<V>, BindingQueryFailure>> {
  if (!(await connectionExists(store, connectionId))) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  try {
    const result = await store.query<T>('bindings', { pk: connectionId, where, limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
    return ok({ items: result.items.map((doc) => view(doc.data)), ...(result.nextCursor === undefined ? {} : { nextCursor: result.nextCursor }) });
  } catch (error) {
    if (error instanceof InvalidCursorError) return err({ code: 'invalid_cursor', message: 'query.cursor: not a cursor of this list' });
    throw error;
  }
}

/** The user bindings of a connection, by user id, optionally of one state; each with who the user is. */
export async function listUserBindings(deps: { readonly store: DocumentStore }, connectionId: string, query: { state?: BindingState; limit: number; cursor?: string }): Promise<Result<Page<Named<UserBindingView>>, BindingQueryFailure>> {
  const where: Condition[] = [{ field: 'kind', op: 'eq', value: 'user' }];
  if (query.state !== undefined) where.push({ field: 'state', op: 'eq', value: query.state });
  const found = await page<UserBindingRecord, UserBindingView>(deps.store, connectionId, where, query, toUserBindingView);
  if (!found.ok) return found;
  return ok({ ...found.value, items: await withNames(deps.store, found.value.items) });
}

/** How a bound group stands as a Microsoft 365 security group (from its `m365group:<id>` record). */
export interface M365GroupView {
  /** `pending`: a change is not written yet; `synced`: the group matches; `error`: the last attempt failed. */
  readonly state: 'pending' | 'synced' | 'error';
  readonly m365GroupId?: string;
  readonly lastError?: BindingError;
  readonly attempts: number;
  readonly lastSyncedAt?: string;
}

export interface GroupBindingWithM365Group extends GroupBindingView {
  /** Absent until the first sync of the group starts. */
  readonly m365Group?: M365GroupView;
}

function toM365GroupView(record: GroupSyncRecord): M365GroupView {
  const state = record.lastError !== undefined ? 'error' : record.handledChangeSeq < record.changeSeq || record.m365GroupId === undefined ? 'pending' : 'synced';
  return {
    state,
    ...(record.m365GroupId === undefined ? {} : { m365GroupId: record.m365GroupId }),
    ...(record.lastError === undefined ? {} : { lastError: record.lastError }),
    attempts: record.attempts,
    ...(record.lastSyncedAt === undefined ? {} : { lastSyncedAt: record.lastSyncedAt }),
  };
}

async function withM365Groups(store: DocumentStore, connectionId: string, bindings: readonly GroupBindingView[]): Promise<GroupBindingWithM365Group[]> {
  if (bindings.length === 0) return [];
  const records = await store.getMany<GroupSyncRecord>('bindings', connectionId, bindings.map((b) => groupSyncRecordId(b.groupId)));
  const byGroup = new Map(records.map((doc) => [doc.data.groupId, doc.data]));
  return bindings.map((binding) => {
    const record = byGroup.get(binding.groupId);
    return record === undefined ? binding : { ...binding, m365Group: toM365GroupView(record) };
  });
}

/** The group bindings of a connection, each with the state of its Microsoft 365 security group. */
export async function listGroupBindings(deps: { readonly store: DocumentStore }, connectionId: string, query: { limit: number; cursor?: string }): Promise<Result<Page<GroupBindingWithM365Group>, BindingQueryFailure>> {
  const found = await page<GroupBindingRecord, GroupBindingView>(deps.store, connectionId, [{ field: 'kind', op: 'eq', value: 'group' }], query, toGroupBindingView);
  if (!found.ok) return found;
  return ok({ ...found.value, items: await withM365Groups(deps.store, connectionId, found.value.items) });
}

/** One group's binding, with the state of its Microsoft 365 security group. */
export async function getGroupBinding(deps: { readonly store: DocumentStore }, connectionId: string, groupId: string): Promise<Result<GroupBindingWithM365Group, BindingQueryFailure>> {
  if (!(await connectionExists(deps.store, connectionId))) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  const doc = await readGroupBinding(deps.store, connectionId, groupId);
  if (doc === undefined) return err({ code: 'binding_not_found', message: `group ${groupId} is not bound to connection ${connectionId}` });
  const [view] = await withM365Groups(deps.store, connectionId, [toGroupBindingView(doc.data)]);
  return ok(view as GroupBindingWithM365Group);
}

/** How many binding records a connection holds: user bindings by state, and group bindings (what de-authorizing removes). */
export async function countBindings(deps: { readonly store: DocumentStore }, connectionId: string): Promise<Result<{ users: Record<BindingState, number> & { total: number }; groups: number }, BindingQueryFailure>> {
  if (!(await connectionExists(deps.store, connectionId))) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  const byState = await Promise.all(
    bindingStates.map((state) => deps.store.count('bindings', { pk: connectionId, where: [{ field: 'kind', op: 'eq', value: 'user' }, { field: 'state', op: 'eq', value: state }] })),
  );
  const users = Object.fromEntries(bindingStates.map((state, index) => [state, byState[index] ?? 0])) as Record<BindingState, number>;
  const groups = await deps.store.count('bindings', { pk: connectionId, where: [{ field: 'kind', op: 'eq', value: 'group' }] });
  return ok({ users: { ...users, total: byState.reduce((sum, n) => sum + n, 0) }, groups });
}
