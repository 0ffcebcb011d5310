import type { Clock } from '../ports/clock';
import type { DocumentStore, StoredDocument } from '../ports/document-store';
import type { Logger } from '../ports/logger';

/** What is recorded per connection: its Graph calls, and its token refreshes at the authority. */
export const activityKinds = ['graph', 'tokenRefresh'] as const;
export type ActivityKind = (typeof activityKinds)[number];

/** One Graph call's or token refresh's outcome. `code` and `message` say why it failed; never a secret. */
export type ActivityOutcome = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

/** Records outcomes without making the caller wait; a failure to record is logged, never thrown. */
export type ActivityRecorder = (connectionId: string, kind: ActivityKind, outcome: ActivityOutcome) => void;

/** The persisted facts about one kind of activity of one connection (container `state`, pk `connection-activity`). */
export interface ActivityRecord {
  readonly connectionId: string;
  readonly kind: ActivityKind;
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
  readonly lastFailure?: { readonly code: string; readonly message: string };
}

/** `failing` when the last recorded outcome is a failure; `unknown` when nothing is recorded yet. */
export type ActivityState = 'ok' | 'failing' | 'unknown';

export const activityPartition = 'connection-activity';
export const activityDocumentId = (connectionId: string, kind: ActivityKind): string => `${connectionId}:${kind}`;

/** A record nobody refreshed in this long belongs to a connection that is gone or idle; it expires. */
const activityTtlSeconds = 90 * 24 * 3600;
const maxMessageLength = 300;

export function activityState(record: ActivityRecord | undefined): ActivityState {
  if (record === undefined || (record.lastSuccessAt === undefined && record.lastFailureAt === undefined)) return 'unknown';
  if (record.lastFailureAt === undefined) return 'ok';
  return record.lastSuccessAt !== undefined && record.lastSuccessAt >= record.lastFailureAt ? 'ok' : 'failing';
}

/**
 * Folds an outcome into a record. Each timestamp only moves forward, so writes from several
 * instances in any order end in the same record.
 */
export function mergeActivity(record: ActivityRecord, at: string, outcome: ActivityOutcome): ActivityRecord {
  if (outcome.ok) return record.lastSuccessAt !== undefined && record.lastSuccessAt >= at ? record : { ...record, lastSuccessAt: at };
  if (record.lastFailureAt !== undefined && record.lastFailureAt >= at) return record;
  return { ...record, lastFailureAt: at, lastFailure: { code: outcome.code, message: outcome.message.slice(0, maxMessageLength) } };
}

export interface ConnectionActivityDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** An unchanged state is written at most this often per connection and kind (default one minute). */
  readonly minWriteIntervalMs?: number;
}

export interface ConnectionActivity {
  readonly record: ActivityRecorder;
  /** The persisted records of these connections, by connection id and kind. */
  read(connectionIds: readonly string[]): Promise<ReadonlyMap<string, Readonly<Partial<Record<ActivityKind, ActivityRecord>>>>>;
  /** Resolves when every write started so far has finished (tests, shutdown). */
  settled(): Promise<void>;
}

/**
 * The last successful Graph call and token refresh per connection, for health. Every Graph call
 * reports here, so writes are cheap by design: an instance writes a connection's record when its
 * state changes (ok <-> failing) and otherwise at most once per `minWriteIntervalMs`. The record is
 * kept in the store, not in memory, because under Azure Functions each instance sees only its
 * own calls; timestamps are merged on write (read, fold, replace with the etag).
 */
export function createConnectionActivity(deps: ConnectionActivityDeps): ConnectionActivity {
  const minWriteIntervalMs = deps.minWriteIntervalMs ?? 60_000;
  const written = new Map<string, { readonly atMs: number; readonly ok: boolean }>();
  const queues = new Map<string, Promise<void>>();

  const write = async (connectionId: string, kind: ActivityKind, at: string, outcome: ActivityOutcome): Promise<void> => {
    const id = activityDocumentId(connectionId, kind);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const doc: StoredDocument<ActivityRecord> | undefined = await deps.store.get<ActivityRecord>('state', activityPartition, id);
      const next = mergeActivity(doc?.data ?? { connectionId, kind }, at, outcome);
      if (doc !== undefined && next === doc.data) return;
      const saved = doc === undefined
        ? await deps.store.create('state', activityPartition, id, next, { ttlSeconds: activityTtlSeconds })
        : await deps.store.replace('state', activityPartition, id, next, { ifMatch: doc.etag, ttlSeconds: activityTtlSeconds });
      if (saved.ok) return;
    }
    throw new Error(`the activity record ${id} kept changing`);
  };

  const record: ActivityRecorder = (connectionId, kind, outcome) => {
    const key = activityDocumentId(connectionId, kind);
    const now = deps.clock.now();
    const last = written.get(key);
    if (last !== undefined && last.ok === outcome.ok && now.getTime() - last.atMs < minWriteIntervalMs) return;
    written.set(key, { atMs: now.getTime(), ok: outcome.ok });
    // One write at a time per record, in the order the outcomes happened.
    const queued = (queues.get(key) ?? Promise.resolve())
      .then(() => write(connectionId, kind, now.toISOString(), outcome))
      .catch((error: unknown) => {
        // Written again at the next outcome rather than a minute later.
        written.delete(key);
        deps.logger.warn('could not record connection activity', { connectionId, kind, error: error instanceof Error ? error.message : String(error) });
      });
    queues.set(key, queued);
    void queued.finally(() => {
      if (queues.get(key) === queued) queues.delete(key);
    });
  };

  return {
    record,
    async read(connectionIds) {
      const ids = connectionIds.flatMap((connectionId) => activityKinds.map((kind) => activityDocumentId(connectionId, kind)));
      const docs = ids.length === 0 ? [] : await deps.store.getMany<ActivityRecord>('state', activityPartition, ids);
      const byConnection = new Map<string, Partial<Record<ActivityKind, ActivityRecord>>>();
      for (const { data } of docs) byConnection.set(data.connectionId, { ...byConnection.get(data.connectionId), [data.kind]: data });
      return byConnection;
    },
    async settled() {
      await Promise.all([...queues.values()]);
    },
  };
}
