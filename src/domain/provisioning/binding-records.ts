import type { DocumentStore, StoredDocument } from '../ports/document-store';
import type { GroupBindingRecord, UserBindingRecord } from './binding';
import { groupBindingId } from './binding';

/** How often a read-modify-write of a binding is retried when another writer got in between. */
const maxWriteAttempts = 8;

export function readUserBinding(store: DocumentStore, connectionId: string, userId: string): Promise<StoredDocument<UserBindingRecord> | undefined> {
  return store.get<UserBindingRecord>('bindings', connectionId, userId);
}

export function readGroupBinding(store: DocumentStore, connectionId: string, groupId: string): Promise<StoredDocument<GroupBindingRecord> | undefined> {
  return store.get<GroupBindingRecord>('bindings', connectionId, groupBindingId(groupId));
}

/**
 * Read-modify-write under optimistic concurrency. `change` gets the current document (or undefined)
 * and returns the new data, or undefined to leave it as it is; it may run more than once.
 * Returns what is stored afterwards.
 */
export async function mutateDocument<T>(
  store: DocumentStore,
  container: 'bindings',
  pk: string,
  id: string,
  change: (current: T | undefined) => T | undefined,
  /** The document as last read or written, to skip the first read; a stale one costs a retry. */
  known?: StoredDocument<T>,
): Promise<StoredDocument<T> | undefined> {
  for (let attempt = 0; attempt < maxWriteAttempts; attempt += 1) {
    const current = attempt === 0 && known !== undefined ? known : await store.get<T>(container, pk, id);
    const next = change(current?.data);
    if (next === undefined) return current;
    if (current === undefined) {
      const created = await store.create<T>(container, pk, id, next);
      if (created.ok) return created.value;
    } else {
      const replaced = await store.replace<T>(container, pk, id, next, { ifMatch: current.etag });
      if (replaced.ok) return replaced.value;
    }
  }
  throw new Error(`${container} ${pk}/${id} kept changing while being written`);
}

export function mutateUserBinding(
  store: DocumentStore,
  connectionId: string,
  userId: string,
  change: (current: UserBindingRecord | undefined) => UserBindingRecord | undefined,
  known?: StoredDocument<UserBindingRecord>,
): Promise<StoredDocument<UserBindingRecord> | undefined> {
  return mutateDocument<UserBindingRecord>(store, 'bindings', connectionId, userId, change, known);
}
