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

/** Folds everything `from` records into `into` (see {@link mergeActivity}). */
function mergeRecords(into: ActivityRecord, from: ActivityRecord): ActivityRecord {
  let merged = into;
  if (from.lastSuccessAt !== undefined) merged = mergeActivity(merged, from.lastSuccessAt, { ok: true });
  if (from.lastFailureAt !== undefined && from.lastFailure !== undefined) merged = mergeActivity(merged, from.lastFailureAt, { ok: false, ...from.lastFailure });
  return merged;
}

export interface ConnectionActivityDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Each record is written at most this often per instance (default one minute). */
  readonly minWriteIntervalMs?: number;
}

export interface ConnectionActivity {
  readonly record: ActivityRecorder;
  /** The persisted records of these connections, by connection id and kind. */
  read(connectionIds: readonly string[]): Promise<ReadonlyMap<string, Readonly<Partial<Record<ActivityKind, ActivityRecord>>>>>;
  /** Writes what waits for its next write slot now, and resolves when every write has finished (shutdown, tests). */
  flush(): Promise<void>;
}

/** Per record: when it was last written, what happened since, and the write in flight. */
interface Slot {
  lastWriteMs: number | undefined;
  pending: ActivityRecord | undefined;
  timer: ReturnType<typeof setTimeout> | undefined;
  writing: Promise<void>;
}

/**
 * The last successful Graph call and token refresh per connection, for health. Every Graph call
 * reports here, so writes are bounded by design: an instance writes a record at once when it has
 * not written it for `minWriteIntervalMs`, and otherwise folds the outcomes into one write at the end
 * of that interval, so health lags by at most the interval. The record is kept in the store, not in
 * memory, because under Azure Functions each instance sees only its own calls; timestamps are
 * merged on write (read, fold, replace with the etag), so instances never undo each other.
 */
export function createConnectionActivity(deps: ConnectionActivityDeps): ConnectionActivity {
  const minWriteIntervalMs = deps.minWriteIntervalMs ?? 60_000;
  const slots = new Map<string, Slot>();

  const persist = async (id: string, pending: ActivityRecord): Promise<void> => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const doc: StoredDocument<ActivityRecord> | undefined = await deps.store.get<ActivityRecord>('state', activityPartition, id);
      const next = doc === undefined ? pending : mergeRecords(doc.data, pending);
      if (doc !== undefined && next === doc.data) return;
      const saved = doc === undefined
        ? await deps.store.create('state', activityPartition, id, next, { ttlSeconds: activityTtlSeconds })
        : await deps.store.replace('state', activityPartition, id, next, { ifMatch: doc.etag, ttlSeconds: activityTtlSeconds });
      if (saved.ok) return;
    }
    throw new Error(`the activity record ${id} kept changing`);
  };

  const writeNow = (id: string, slot: Slot): void => {
    const pending = slot.pending;
    if (pending === undefined) return;
    slot.pending = undefined;
    slot.lastWriteMs = deps.clock.now().getTime();
    slot.writing = slot.writing
      .then(() => persist(id, pending))
      .catch((error: unknown) => {
        // Kept for the next write, which the next outcome makes at once.
        slot.pending = slot.pending === undefined ? pending : mergeRecords(slot.pending, pending);
        slot.lastWriteMs = undefined;
        deps.logger.warn('could not record connection activity', { connectionId: pending.connectionId, kind: pending.kind, error: error instanceof Error ? error.message : String(error) });
      });
  };

  const record: ActivityRecorder = (connectionId, kind, outcome) => {
    const id = activityDocumentId(connectionId, kind);
    let slot = slots.get(id);
    if (slot === undefined) {
      slot = { lastWriteMs: undefined, pending: undefined, timer: undefined, writing: Promise.resolve() };
      slots.set(id, slot);
    }
    const now = deps.clock.now();
    slot.pending = mergeActivity(slot.pending ?? { connectionId, kind }, now.toISOString(), outcome);
    if (slot.timer !== undefined) return;
    const waitMs = slot.lastWriteMs === undefined ? 0 : slot.lastWriteMs + minWriteIntervalMs - now.getTime();
    if (waitMs <= 0) {
      writeNow(id, slot);
      return;
    }
    const waiting = slot;
    waiting.timer = setTimeout(() => {
      waiting.timer = undefined;
      writeNow(id, waiting);
    }, waitMs);
    waiting.timer.unref?.();
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
    async flush() {
      for (const [id, slot] of slots) {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        writeNow(id, slot);
      }
      await Promise.all([...slots.values()].map((slot) => slot.writing));
    },
  };
}
