import type { DocumentStore } from '../ports/document-store';

/** The partition of a connection's reconcile records (container `state`). */
export function reconcilePartition(connectionId: string): string {
  return `reconcile:${connectionId}`;
}

/** Where the next users round starts (id `users-delta`). The deltaLink grants nothing without an access token. */
export interface UsersDeltaRecord {
  readonly deltaLink: string;
  /** The `$select` the link tracks; a connection whose mapping changed needs a new full round. */
  readonly select: string;
  readonly issuedAt: string;
}

/** How far stuck work has been looked for (id `stuck-check`): bindings last updated before `checkedUntil`. */
export interface StuckCheckRecord {
  readonly checkedUntil: string;
}

/** The backoff of a binding in `error` (id `retry:<userId>`), valid while the binding still has `changeSeq`. */
export interface RetryRecord {
  readonly userId: string;
  readonly incarnation: string;
  /** The change number the last retry gave the binding; any other means the user changed since. */
  readonly changeSeq: number;
  /** Retries so far in this run of failures; the next waits 1 minute doubled this many times. */
  readonly step: number;
}

export const usersDeltaId = 'users-delta';
export const stuckCheckId = 'stuck-check';
export const lastRunId = 'last-run';

export function retryId(userId: string): string {
  return `retry:${userId}`;
}

export async function readReconcileRecord<T>(store: DocumentStore, connectionId: string, id: string): Promise<T | undefined> {
  return (await store.get<T>('state', reconcilePartition(connectionId), id))?.data;
}

export async function writeReconcileRecord<T>(store: DocumentStore, connectionId: string, id: string, data: T, ttlSeconds?: number): Promise<void> {
  await store.upsert<T>('state', reconcilePartition(connectionId), id, data, ttlSeconds === undefined ? undefined : { ttlSeconds });
}
