import { InvalidCursorError, type Condition, type DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { toGroupBindingView, toUserBindingView, type BindingState, type GroupBindingRecord, type GroupBindingView, type UserBindingRecord, type UserBindingView } from './binding';
import { readUserBinding } from './binding-records';
import { readConnection } from './bind-user';

export type BindingQueryFailure = { readonly code: 'connection_not_found' | 'binding_not_found' | 'invalid_cursor'; readonly message: string };

interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

async function connectionExists(store: DocumentStore, connectionId: string): Promise<boolean> {
  return (await readConnection(store, connectionId)) !== undefined;
}

export async function getUserBinding(deps: { readonly store: DocumentStore }, connectionId: string, userId: string): Promise<Result<UserBindingView, BindingQueryFailure>> {
  if (!(await connectionExists(deps.store, connectionId))) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  const doc = await readUserBinding(deps.store, connectionId, userId);
  if (doc === undefined) return err({ code: 'binding_not_found', message: `user ${userId} is not bound to connection ${connectionId}` });
  return ok(toUserBindingView(doc.data));
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

/** The user bindings of a connection, by user id, optionally of one state. */
export function listUserBindings(deps: { readonly store: DocumentStore }, connectionId: string, query: { state?: BindingState; limit: number; cursor?: string }): Promise<Result<Page<UserBindingView>, BindingQueryFailure>> {
  const where: Condition[] = [{ field: 'kind', op: 'eq', value: 'user' }];
  if (query.state !== undefined) where.push({ field: 'state', op: 'eq', value: query.state });
  return page<UserBindingRecord, UserBindingView>(deps.store, connectionId, where, query, toUserBindingView);
}

export function listGroupBindings(deps: { readonly store: DocumentStore }, connectionId: string, query: { limit: number; cursor?: string }): Promise<Result<Page<GroupBindingView>, BindingQueryFailure>> {
  return page<GroupBindingRecord, GroupBindingView>(deps.store, connectionId, [{ field: 'kind', op: 'eq', value: 'group' }], query, toGroupBindingView);
}
