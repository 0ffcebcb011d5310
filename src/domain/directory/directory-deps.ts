import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { DirectoryHooks } from './directory-hooks';

/** What the directory use cases need; `Services` satisfies it. */
export interface DirectoryDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly directoryHooks: DirectoryHooks;
}

/** A document's value with the version it was read or written at (an ETag for If-Match). */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}

export interface ConditionalWrite {
  /** The ETag the caller read (If-Match); the write fails with `version_mismatch` if the document changed since. */
  readonly ifMatch?: string;
}

export interface CreateOptions {
  /**
   * The new document's id (from `newDirectoryId`), for a caller that records it before creating so
   * that a retry after a crash finds its own earlier create (an import). Defaults to a fresh one.
   */
  readonly id?: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor?: string;
}

/** How often a read-modify-write is retried when another writer changed the document in between. */
export const maxWriteAttempts = 5;

/** Compares ETags as sent by clients (quoted or not) with stored ones. */
export function sameEtag(a: string, b: string): boolean {
  const bare = (etag: string) => etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return bare(a) === bare(b);
}
