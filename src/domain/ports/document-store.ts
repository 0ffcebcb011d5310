import type { Result } from '../result';

/**
 * The containers of the document store. Each has one partition key path; the Cosmos DB adapter
 * creates one container per name with partition key `/pk`, the SQLite adapter one table for all.
 * See README "Storage layout" for the access path each one serves.
 */
export const containerNames = [
  'users', // pk = user id
  'groups', // pk = group id
  'memberships', // pk = group id, id = user id (one small document per member: no 2 MB item limit)
  'uniques', // pk = `${kind}:${value}` (e.g. `email:a@b.com`), a unique-key claim; create-if-absent makes it race-safe
  'keys', // pk = key id (API keys, hashed)
  'connections', // pk = connection id
  'bindings', // pk = connection id, id = user id or `group:${groupId}`
  'events', // pk = connection id (or `directory`), newest-first queries
  'jobs', // pk = job id (import jobs and their results)
  'leases', // pk = lease name (reconcile leases, with expiry)
  'plans', // pk = connection id, id = plan id or `${planId}:${page}` (stored plans of changes, with expiry)
  'state', // pk = purpose (short-lived records: OAuth state, outbox, dedupe marks), usually with TTL
] as const;

export type ContainerName = (typeof containerNames)[number];

/** A stored document: the caller's data plus the store's bookkeeping. */
export interface StoredDocument<T> {
  readonly id: string;
  readonly pk: string;
  /** Opaque version tag; changes on every write. Pass it back as `ifMatch`. */
  readonly etag: string;
  readonly data: T;
  /** When the document stops being visible, if it has a TTL (epoch ms). */
  readonly expiresAt?: number;
}

export interface WriteOptions {
  /**
   * Time to live in seconds (> 0); the document disappears after it. A write without it stores a
   * document that never expires, dropping any earlier TTL.
   */
  readonly ttlSeconds?: number;
}

export interface ReplaceOptions extends WriteOptions {
  /** Only write when the stored etag is this one (optimistic concurrency). Omit to overwrite. */
  readonly ifMatch?: string;
}

export interface DeleteOptions {
  readonly ifMatch?: string;
}

/** A field of the document data, dotted for nested fields (`m365.id`). */
export type FieldPath = string;
export type Scalar = string | number | boolean | null;

/**
 * A filter on the document data. Comparisons are typed as in Cosmos DB: `1` never equals `'1'` or
 * `true`, and a missing field matches nothing but `exists: false`. `ne` matches a present field
 * whose value differs (in type or value); `lt`..`ge` take a string or number and match fields of
 * the same type. Field path segments are identifiers (`[A-Za-z_][A-Za-z0-9_]*`).
 */
export type Condition =
  | { readonly field: FieldPath; readonly op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'; readonly value: Scalar }
  /** Equals one of `values`; an empty list matches nothing. */
  | { readonly field: FieldPath; readonly op: 'in'; readonly values: readonly Scalar[] }
  /** Case-insensitive substring match over one or more string fields (any of them matches). */
  | { readonly fields: readonly FieldPath[]; readonly op: 'contains'; readonly value: string }
  | { readonly field: FieldPath; readonly op: 'exists'; readonly value: boolean };

export interface QuerySpec {
  /** Restrict to one partition; omit for a cross-partition query. */
  readonly pk?: string;
  /** All conditions must hold. */
  readonly where?: readonly Condition[];
  /**
   * Sort order; ties are broken by id, then (across partitions) by pk, in the same direction.
   * Defaults to id ascending.
   * Documents whose field does not hold a string or number are left out; numbers sort before strings.
   */
  readonly orderBy?: { readonly field: FieldPath; readonly direction: 'asc' | 'desc' };
  /** Page size, 1..1000. */
  readonly limit: number;
  /** The `nextCursor` of the previous page, for the same `orderBy` and the same presence of `pk`. Opaque. */
  readonly cursor?: string;
}

export interface QueryPage<T> {
  readonly items: readonly StoredDocument<T>[];
  /** Absent on the last page. */
  readonly nextCursor?: string;
}

/** Thrown by `query` for a cursor that is malformed or was issued for another sort order (a client error). */
export class InvalidCursorError extends Error {
  readonly code = 'INVALID_CURSOR' as const;

  constructor(message = 'The paging cursor is not valid for this query.', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidCursorError';
  }
}

/** A cursor's payload as the listings write it: a JSON object, base64url-encoded. */
export function encodeCursorPayload(payload: Readonly<Record<string, unknown>>): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

/** The payload of a cursor written by `encodeCursorPayload`; `InvalidCursorError` when it is not one. */
export function decodeCursorPayload(cursor: string): Readonly<Record<string, unknown>> {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (cause) {
    throw new InvalidCursorError(undefined, { cause });
  }
  if (typeof payload !== 'object' || payload === null) throw new InvalidCursorError();
  return payload as Record<string, unknown>;
}

export type CreateFailure = 'conflict';
export type ReplaceFailure = 'not_found' | 'precondition_failed';
export type DeleteFailure = 'not_found' | 'precondition_failed';

/**
 * A document store with point reads by partition and id, optimistic concurrency, paged
 * queries and documents that expire. Implemented by SQLite (embedded) and Cosmos DB (Azure).
 */
export interface DocumentStore {
  get<T>(container: ContainerName, pk: string, id: string): Promise<StoredDocument<T> | undefined>;
  /** Fetch many documents of one partition by id, in the order of `ids`; missing ids are skipped. */
  getMany<T>(container: ContainerName, pk: string, ids: readonly string[]): Promise<StoredDocument<T>[]>;
  /** Create if absent; `conflict` when a live document with that pk and id exists. */
  create<T>(container: ContainerName, pk: string, id: string, data: T, options?: WriteOptions): Promise<Result<StoredDocument<T>, CreateFailure>>;
  /** Replace an existing document; with `ifMatch`, only when unchanged since read. */
  replace<T>(container: ContainerName, pk: string, id: string, data: T, options?: ReplaceOptions): Promise<Result<StoredDocument<T>, ReplaceFailure>>;
  /** Create or overwrite, unconditionally. */
  upsert<T>(container: ContainerName, pk: string, id: string, data: T, options?: WriteOptions): Promise<StoredDocument<T>>;
  delete(container: ContainerName, pk: string, id: string, options?: DeleteOptions): Promise<Result<void, DeleteFailure>>;
  /** One page of matching documents; pages never repeat or skip a document that stays unchanged. */
  query<T>(container: ContainerName, spec: QuerySpec): Promise<QueryPage<T>>;
  /** Count documents matching the spec (limit and cursor ignored). */
  count(container: ContainerName, spec: Omit<QuerySpec, 'limit' | 'cursor' | 'orderBy'>): Promise<number>;
  /** A cheap round trip proving the store answers. */
  ping(): Promise<void>;
  /** Releases what the store opened itself (a database handle passed in stays open). */
  close(): Promise<void>;
}
