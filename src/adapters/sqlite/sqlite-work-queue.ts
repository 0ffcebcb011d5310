import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { Clock } from '../../domain/ports/clock';
import { systemClock } from '../../domain/ports/clock';
import { queueNames, sessionQueues, type MessageSender, type OutgoingMessage, type QueueName } from '../../domain/ports/work-queue';
import { decodeDeadLetterCursor, encodeDeadLetterCursor, resubmittedMessageId, type DeadLetterPage, type DeadLetterQueue } from '../../domain/ports/dead-letters';
import { InvalidCursorError } from '../../domain/ports/document-store';
import type { AbandonOutcome, LockedMessage, QueueConsumer, ReceiveOptions } from '../../app/host/queue-consumer';
import { MessageLockLostError } from '../../app/host/queue-consumer';
import { redact, redactString } from '../logging/redact';

/** A stored message body (JSON text) with secret-named fields and secret-shaped values redacted. */
function redactedBody(body: string): string {
  try {
    return JSON.stringify(redact(JSON.parse(body) as unknown));
  } catch {
    return redactString(body);
  }
}

export interface SqliteWorkQueueOptions {
  readonly clock?: Clock;
  /** A message id seen within this long after its first send is dropped. Default 10 minutes. */
  readonly duplicateWindowMs?: number;
  /** A message that fails on its last allowed delivery is dead-lettered. */
  readonly maxDeliveries: number;
  /** How long a received message (and its session) stays locked without renewal. Default 60 s. */
  readonly lockDurationMs?: number;
}

// Service Bus limits, enforced here too so the embedded queue rejects what Azure would.
const maxIdLength = 128;

/*
 * One row per live message. `enqueued_at` is when it becomes visible (its scheduled time, like
 * Service Bus's enqueued time). `available_at` is when it can next be received: `enqueued_at` while
 * unlocked, its lock expiry while locked, so one index range finds receivable messages and a crashed
 * consumer's locks lapse without any sweeper. Sessions get a row of their own with the same trick:
 * `available_at` is the session lock's expiry while locked, else the earliest `enqueued_at` of its
 * messages; a session lock is simply the lock token of the session's head message.
 */
const schema = `
CREATE TABLE IF NOT EXISTS queue_messages (
  seq INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  session_id TEXT,
  body TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  available_at INTEGER NOT NULL,
  delivery_count INTEGER NOT NULL DEFAULT 0,
  lock_token TEXT,
  last_error TEXT,
  trace_context TEXT
);
CREATE INDEX IF NOT EXISTS queue_messages_available ON queue_messages (queue, available_at, seq);
-- enqueued_at rides along so a session's head and next visible time come from the index alone.
CREATE INDEX IF NOT EXISTS queue_messages_session ON queue_messages (queue, session_id, seq, enqueued_at) WHERE session_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS queue_sessions (
  queue TEXT NOT NULL,
  session_id TEXT NOT NULL,
  available_at INTEGER NOT NULL,
  lock_token TEXT,
  PRIMARY KEY (queue, session_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_sessions_available ON queue_sessions (queue, available_at);
CREATE TABLE IF NOT EXISTS queue_message_ids (
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (queue, message_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_message_ids_expiry ON queue_message_ids (expires_at);
-- AUTOINCREMENT: a dead letter's id is its API id, so a deleted one's id must never come back.
CREATE TABLE IF NOT EXISTS queue_dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  message_id TEXT NOT NULL,
  session_id TEXT,
  body TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  delivery_count INTEGER NOT NULL,
  reason TEXT NOT NULL,
  dead_lettered_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_dead_letters_queue ON queue_dead_letters (queue);
`;

interface MessageRow {
  seq: number;
  queue: QueueName;
  message_id: string;
  session_id: string | null;
  body: string;
  enqueued_at: number;
  delivery_count: number;
  last_error: string | null;
  trace_context: string | null;
}

interface DeadLetterRow {
  id: number;
  message_id: string;
  session_id: string | null;
  body: string;
  enqueued_at: number;
  delivery_count: number;
  reason: string;
  dead_lettered_at: number;
}

/** What this instance remembers of a lock it handed out, to settle it by primary key and release it on shutdown. */
interface HeldLock {
  readonly seq: number;
  readonly queue: QueueName;
  readonly sessionId: string | null;
  readonly messageId: string;
}

interface PendingSettlement {
  readonly apply: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

const messageColumns = 'seq, queue, message_id, session_id, body, enqueued_at, delivery_count, last_error, trace_context';

/**
 * The embedded work queue (sender and consumer) in the service's SQLite database, with Service Bus
 * semantics: message-id de-duplication, scheduled messages, peek-lock with delivery counts and lock
 * expiry, dead-lettering, and sessions. Every state change is one transaction, so a crash loses nothing.
 *
 * Settling checks the lock token, not the clock: a message whose lock expired can still be completed
 * until another receive takes it, which only saves a harmless redelivery. Settlements requested in
 * the same turn of the event loop share one transaction (a commit costs more than the work in it);
 * each promise settles once that transaction has committed.
 */
export class SqliteWorkQueue implements MessageSender, QueueConsumer, DeadLetterQueue {
  private readonly clock: Clock;
  private readonly duplicateWindowMs: number;
  private readonly maxDeliveries: number;
  private readonly lockDurationMs: number;
  private readonly instanceId = randomBytes(6).toString('base64url');
  private lockCounter = 0;
  private readonly held = new Map<string, HeldLock>();
  private readonly listeners = new Set<(queue: QueueName) => void>();
  private pending: PendingSettlement[] = [];
  /** Runs `fn` in a transaction, or in a savepoint when already inside one; built once, as building one per call costs. */
  private readonly transact: <T>(fn: () => T) => T;

  private readonly statements: {
    readonly ping: Statement<[]>;
    readonly purgeIds: Statement<[number]>;
    readonly claimId: Statement<[QueueName, string, number, number]>;
    readonly insert: Statement<[QueueName, string, string | null, string, number, number, string | null]>;
    readonly upsertSession: Statement<[QueueName, string, number]>;
    readonly availableSessions: Statement<[QueueName, number, number], { session_id: string }>;
    readonly sessionHead: Statement<[QueueName, string, number], MessageRow>;
    readonly availableMessages: Statement<[QueueName, number, number], MessageRow>;
    readonly lockMessage: Statement<[string, number, number]>;
    readonly lockSession: Statement<[string, number, QueueName, string]>;
    readonly nextVisible: Statement<[QueueName, string], { next: number | null }>;
    readonly refreshSession: Statement<[number, QueueName, string]>;
    readonly deleteSession: Statement<[QueueName, string]>;
    readonly sessionLock: Statement<[QueueName, string], { lock_token: string | null }>;
    readonly deleteLocked: Statement<[number, string], MessageRow>;
    readonly completeLocked: Statement<[number, string]>;
    readonly deleteBySeq: Statement<[number]>;
    readonly lockedDeliveries: Statement<[number, string], { delivery_count: number }>;
    readonly unlock: Statement<[string, number, string]>;
    readonly release: Statement<[number, string]>;
    readonly renewMessage: Statement<[number, number, string]>;
    readonly renewSession: Statement<[number, QueueName, string, string]>;
    readonly insertDeadLetter: Statement<[QueueName, string, string | null, string, number, number, string, number]>;
    readonly deadLetters: Statement<[QueueName, number], DeadLetterRow>;
    readonly deadLettersAfter: Statement<[QueueName, number, number], DeadLetterRow>;
    readonly deadLetter: Statement<[QueueName, number], DeadLetterRow>;
    readonly deleteDeadLetter: Statement<[QueueName, number]>;
    readonly backlog: Statement<[], { queue: QueueName; depth: number; oldest: number }>;
  };

  constructor(
    private readonly db: Database,
    options: SqliteWorkQueueOptions,
  ) {
    if (!Number.isInteger(options.maxDeliveries) || options.maxDeliveries < 1) throw new TypeError('maxDeliveries must be a positive integer');
    this.clock = options.clock ?? systemClock;
    this.duplicateWindowMs = options.duplicateWindowMs ?? 10 * 60_000;
    this.maxDeliveries = options.maxDeliveries;
    this.lockDurationMs = options.lockDurationMs ?? 60_000;
    db.exec(schema);
    // Databases from before messages carried their trace context get the column.
    if (!(db.prepare('PRAGMA table_info(queue_messages)').all() as { name: string }[]).some((column) => column.name === 'trace_context')) {
      db.exec('ALTER TABLE queue_messages ADD COLUMN trace_context TEXT');
    }
    const transaction = db.transaction((fn: () => unknown) => fn());
    this.transact = <T>(fn: () => T): T => transaction(fn) as T;
    this.statements = {
      ping: db.prepare('SELECT 1'),
      purgeIds: db.prepare('DELETE FROM queue_message_ids WHERE expires_at <= ?'),
      // Only claims an id that is new or whose window has passed; `changes === 0` means duplicate.
      claimId: db.prepare(
        `INSERT INTO queue_message_ids (queue, message_id, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (queue, message_id) DO UPDATE SET expires_at = excluded.expires_at WHERE queue_message_ids.expires_at <= ?`,
      ),
      insert: db.prepare(
        `INSERT INTO queue_messages (queue, message_id, session_id, body, enqueued_at, available_at, trace_context)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      upsertSession: db.prepare(
        `INSERT INTO queue_sessions (queue, session_id, available_at) VALUES (?, ?, ?)
         ON CONFLICT (queue, session_id) DO UPDATE SET available_at = MIN(available_at, excluded.available_at)
         WHERE queue_sessions.lock_token IS NULL`,
      ),
      availableSessions: db.prepare('SELECT session_id FROM queue_sessions WHERE queue = ? AND available_at <= ? ORDER BY available_at LIMIT ?'),
      sessionHead: db.prepare(
        `SELECT ${messageColumns} FROM queue_messages
         WHERE queue = ? AND session_id = ? AND enqueued_at <= ? ORDER BY seq LIMIT 1`,
      ),
      availableMessages: db.prepare(
        `SELECT ${messageColumns} FROM queue_messages
         WHERE queue = ? AND available_at <= ? ORDER BY available_at, seq LIMIT ?`,
      ),
      lockMessage: db.prepare('UPDATE queue_messages SET lock_token = ?, available_at = ?, delivery_count = delivery_count + 1 WHERE seq = ?'),
      lockSession: db.prepare('UPDATE queue_sessions SET lock_token = ?, available_at = ? WHERE queue = ? AND session_id = ?'),
      nextVisible: db.prepare('SELECT MIN(enqueued_at) AS next FROM queue_messages WHERE queue = ? AND session_id = ?'),
      refreshSession: db.prepare('UPDATE queue_sessions SET lock_token = NULL, available_at = ? WHERE queue = ? AND session_id = ?'),
      deleteSession: db.prepare('DELETE FROM queue_sessions WHERE queue = ? AND session_id = ?'),
      sessionLock: db.prepare('SELECT lock_token FROM queue_sessions WHERE queue = ? AND session_id = ?'),
      deleteLocked: db.prepare(`DELETE FROM queue_messages WHERE seq = ? AND lock_token = ? RETURNING ${messageColumns}`),
      completeLocked: db.prepare('DELETE FROM queue_messages WHERE seq = ? AND lock_token = ?'),
      deleteBySeq: db.prepare('DELETE FROM queue_messages WHERE seq = ?'),
      lockedDeliveries: db.prepare('SELECT delivery_count FROM queue_messages WHERE seq = ? AND lock_token = ?'),
      unlock: db.prepare('UPDATE queue_messages SET lock_token = NULL, available_at = enqueued_at, last_error = ? WHERE seq = ? AND lock_token = ?'),
      // A released delivery never ran to an outcome, so it does not count against max deliveries.
      release: db.prepare(
        `UPDATE queue_messages SET lock_token = NULL, available_at = enqueued_at, delivery_count = MAX(delivery_count - 1, 0)
         WHERE seq = ? AND lock_token = ?`,
      ),
      renewMessage: db.prepare('UPDATE queue_messages SET available_at = ? WHERE seq = ? AND lock_token = ?'),
      renewSession: db.prepare('UPDATE queue_sessions SET available_at = ? WHERE queue = ? AND session_id = ? AND lock_token = ?'),
      insertDeadLetter: db.prepare(
        `INSERT INTO queue_dead_letters (queue, message_id, session_id, body, enqueued_at, delivery_count, reason, dead_lettered_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deadLetters: db.prepare(
        `SELECT id, message_id, session_id, body, enqueued_at, delivery_count, reason, dead_lettered_at
         FROM queue_dead_letters WHERE queue = ? ORDER BY id DESC LIMIT ?`,
      ),
      // Keyset paging on the listing's order: the id is unique, so it alone says where a page ended.
      deadLettersAfter: db.prepare(
        `SELECT id, message_id, session_id, body, enqueued_at, delivery_count, reason, dead_lettered_at
         FROM queue_dead_letters WHERE queue = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      ),
      deadLetter: db.prepare(
        `SELECT id, message_id, session_id, body, enqueued_at, delivery_count, reason, dead_lettered_at
         FROM queue_dead_letters WHERE queue = ? AND id = ?`,
      ),
      deleteDeadLetter: db.prepare('DELETE FROM queue_dead_letters WHERE queue = ? AND id = ?'),
      backlog: db.prepare('SELECT queue, COUNT(*) AS depth, MIN(enqueued_at) AS oldest FROM queue_messages GROUP BY queue'),
    };
  }

  async send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    const rows = messages.map((message) => {
      if (typeof message.messageId !== 'string' || message.messageId === '' || message.messageId.length > maxIdLength) {
        throw new TypeError(`messageId must be a non-empty string of at most ${maxIdLength} characters`);
      }
      if (message.sessionId === undefined && sessionQueues.has(queue)) {
        // Service Bus refuses such a send; without this check the message would wait forever.
        throw new TypeError(`message ${message.messageId}: queue ${queue} is session-enabled and needs a sessionId`);
      }
      if (message.sessionId !== undefined && (message.sessionId === '' || message.sessionId.length > maxIdLength)) {
        throw new TypeError(`sessionId must be a non-empty string of at most ${maxIdLength} characters`);
      }
      const body = JSON.stringify(message.body) as string | undefined;
      if (body === undefined) throw new TypeError(`message ${message.messageId}: body must be JSON-serialisable`);
      return { message, body };
    });
    const inserted = this.transact(() => this.insertMessages(queue, rows));
    if (inserted > 0) for (const listener of this.listeners) listener(queue);
  }

  /** Inserts messages not seen within the duplicate window; returns how many went in. Call inside a transaction. */
  private insertMessages(queue: QueueName, rows: readonly { message: Omit<OutgoingMessage, 'body'>; body: string }[]): number {
    const now = this.clock.now().getTime();
    const s = this.statements;
    s.purgeIds.run(now);
    let count = 0;
    for (const { message, body } of rows) {
      if (s.claimId.run(queue, message.messageId, now + this.duplicateWindowMs, now).changes === 0) continue;
      const enqueuedAt = Math.max(message.scheduledEnqueueTime?.getTime() ?? now, now);
      const sessionId = message.sessionId ?? null;
      s.insert.run(queue, message.messageId, sessionId, body, enqueuedAt, enqueuedAt, message.traceContext === undefined ? null : JSON.stringify(message.traceContext));
      if (sessionId !== null) s.upsertSession.run(queue, sessionId, enqueuedAt);
      count += 1;
    }
    return count;
  }

  async receive(queue: QueueName, options: ReceiveOptions): Promise<LockedMessage[]> {
    if (options.maxMessages < 1) return [];
    return this.transact(() => (options.sessions ? this.receiveSessions(queue, options.maxMessages) : this.receiveMessages(queue, options.maxMessages)));
  }

  private receiveSessions(queue: QueueName, maxMessages: number): LockedMessage[] {
    const s = this.statements;
    const now = this.clock.now().getTime();
    const lockedUntil = now + this.lockDurationMs;
    const received: LockedMessage[] = [];
    for (const { session_id: sessionId } of s.availableSessions.all(queue, now, maxMessages)) {
      let head = s.sessionHead.get(queue, sessionId, now);
      // Available with deliveries used up means the last delivery's lock expired: Service Bus dead-letters on the next receive.
      while (head !== undefined && head.delivery_count >= this.maxDeliveries) {
        this.moveToDeadLetters(head, expiredReason(head), now);
        head = s.sessionHead.get(queue, sessionId, now);
      }
      if (head === undefined) {
        this.refreshSession(queue, sessionId);
        continue;
      }
      const lockToken = this.nextLockToken();
      s.lockMessage.run(lockToken, lockedUntil, head.seq);
      s.lockSession.run(lockToken, lockedUntil, queue, sessionId);
      received.push(this.hold(head, lockToken, lockedUntil));
    }
    return received;
  }

  private receiveMessages(queue: QueueName, maxMessages: number): LockedMessage[] {
    const s = this.statements;
    const now = this.clock.now().getTime();
    const lockedUntil = now + this.lockDurationMs;
    const received: LockedMessage[] = [];
    for (const row of s.availableMessages.all(queue, now, maxMessages)) {
      if (row.delivery_count >= this.maxDeliveries) {
        this.moveToDeadLetters(row, expiredReason(row), now);
        continue;
      }
      const lockToken = this.nextLockToken();
      s.lockMessage.run(lockToken, lockedUntil, row.seq);
      received.push(this.hold(row, lockToken, lockedUntil));
    }
    return received;
  }

  async complete(message: LockedMessage): Promise<void> {
    await this.settle(message, (lock) => {
      if (this.statements.completeLocked.run(lock.seq, message.lockToken).changes === 0) throw new MessageLockLostError(lock.queue, lock.messageId);
    });
  }

  async abandon(message: LockedMessage, reason: string): Promise<AbandonOutcome> {
    return this.settle(message, (lock) => {
      const s = this.statements;
      const row = s.lockedDeliveries.get(lock.seq, message.lockToken);
      if (row === undefined) throw new MessageLockLostError(lock.queue, lock.messageId);
      if (row.delivery_count >= this.maxDeliveries) {
        this.deadLetterLocked(lock, message.lockToken, `MaxDeliveryCountExceeded: ${reason}`);
        return 'dead_lettered';
      }
      s.unlock.run(reason, lock.seq, message.lockToken);
      return 'abandoned';
    });
  }

  async deadLetter(message: LockedMessage, reason: string): Promise<void> {
    await this.settle(message, (lock) => this.deadLetterLocked(lock, message.lockToken, reason));
  }

  async renewLock(message: LockedMessage): Promise<Date> {
    const lock = this.held.get(message.lockToken);
    if (lock === undefined) throw new MessageLockLostError(message.queue, message.messageId);
    const lockedUntil = this.clock.now().getTime() + this.lockDurationMs;
    this.transact(() => {
      if (this.statements.renewMessage.run(lockedUntil, lock.seq, message.lockToken).changes === 0) {
        this.held.delete(message.lockToken);
        throw new MessageLockLostError(lock.queue, lock.messageId);
      }
      if (lock.sessionId !== null) this.statements.renewSession.run(lockedUntil, lock.queue, lock.sessionId, message.lockToken);
    });
    return new Date(lockedUntil);
  }

  async releaseAll(): Promise<void> {
    // Settlements already asked for win over the release.
    this.flushSettlements();
    this.transact(() => {
      for (const [lockToken, lock] of this.held) {
        this.statements.release.run(lock.seq, lockToken);
        if (lock.sessionId !== null) this.releaseSession(lock.queue, lock.sessionId, lockToken);
      }
    });
    this.held.clear();
  }

  /** Newest first (by id, which only grows); the cursor holds the id the page ended with. */
  async deadLetters(queue: QueueName, options: { limit: number; cursor?: string }): Promise<DeadLetterPage> {
    const after = options.cursor === undefined ? undefined : deadLetterRowId(decodeDeadLetterCursor(deadLetterListing, options.cursor));
    if (options.cursor !== undefined && after === undefined) throw new InvalidCursorError();
    // One row past the page says whether there is a next one.
    const rows = after === undefined ? this.statements.deadLetters.all(queue, options.limit + 1) : this.statements.deadLettersAfter.all(queue, after, options.limit + 1);
    const page = rows.slice(0, options.limit);
    const last = page[page.length - 1];
    const items = page.map((row) => ({
      id: String(row.id),
      messageId: row.message_id,
      ...(row.session_id === null ? {} : { sessionId: row.session_id }),
      body: JSON.parse(row.body) as unknown,
      enqueuedAt: new Date(row.enqueued_at),
      deliveryCount: row.delivery_count,
      reason: row.reason,
      deadLetteredAt: new Date(row.dead_lettered_at),
    }));
    return rows.length > options.limit && last !== undefined ? { items, nextCursor: encodeDeadLetterCursor(deadLetterListing, String(last.id)) } : { items };
  }

  /** Moves the dead letter back onto its queue in one transaction, as a new message (first delivery, visible now). */
  async resubmitDeadLetter(queue: QueueName, id: string): Promise<boolean> {
    const rowId = deadLetterRowId(id);
    if (rowId === undefined) return false;
    const resubmitted = this.transact(() => {
      const row = this.statements.deadLetter.get(queue, rowId);
      if (row === undefined) return false;
      const message = { messageId: resubmittedMessageId(row.message_id, this.clock.now()), ...(row.session_id === null ? {} : { sessionId: row.session_id }) };
      this.insertMessages(queue, [{ message, body: row.body }]);
      this.statements.deleteDeadLetter.run(queue, rowId);
      return true;
    });
    if (resubmitted) for (const listener of this.listeners) listener(queue);
    return resubmitted;
  }

  async deleteDeadLetter(queue: QueueName, id: string): Promise<boolean> {
    const rowId = deadLetterRowId(id);
    return rowId !== undefined && this.statements.deleteDeadLetter.run(queue, rowId).changes > 0;
  }

  /** Per queue: messages waiting (scheduled and locked ones included) and the oldest one's enqueue time. */
  async backlog(): Promise<{ queue: QueueName; depth: number; oldestEnqueuedAt: Date | undefined }[]> {
    const rows = new Map(this.statements.backlog.all().map((row) => [row.queue, row]));
    return queueNames.map((queue) => {
      const row = rows.get(queue);
      return { queue, depth: row?.depth ?? 0, oldestEnqueuedAt: row === undefined ? undefined : new Date(row.oldest) };
    });
  }

  onAvailable(listener: (queue: QueueName) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async ping(): Promise<void> {
    this.statements.ping.get();
  }

  /** Commits pending settlements and forgets listeners; the database belongs to whoever opened it, and stays open. */
  async close(): Promise<void> {
    this.flushSettlements();
    this.listeners.clear();
  }

  private settle<T>(message: LockedMessage, apply: (lock: HeldLock) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = (): T => {
        const lock = this.held.get(message.lockToken);
        if (lock === undefined) throw new MessageLockLostError(message.queue, message.messageId);
        // Settled, or lost to another delivery: either way this instance no longer holds it.
        this.held.delete(message.lockToken);
        const outcome = apply(lock);
        if (lock.sessionId !== null) this.releaseSession(lock.queue, lock.sessionId, message.lockToken);
        return outcome;
      };
      this.pending.push({ apply: run, resolve: resolve as (value: unknown) => void, reject });
      if (this.pending.length === 1) setImmediate(() => this.flushSettlements());
    });
  }

  /** Applies pending settlements in one transaction, each in a savepoint so one lost lock fails only its own. */
  private flushSettlements(): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    try {
      const outcomes = this.transact(() =>
        batch.map(({ apply }) => {
          try {
            return { ok: true as const, value: this.transact(apply) };
          } catch (error) {
            return { ok: false as const, error };
          }
        }),
      );
      outcomes.forEach((outcome, i) => (outcome.ok ? batch[i]!.resolve(outcome.value) : batch[i]!.reject(outcome.error)));
    } catch (error) {
      for (const { reject } of batch) reject(error);
    }
  }

  private deadLetterLocked(lock: HeldLock, lockToken: string, reason: string): void {
    const row = this.statements.deleteLocked.get(lock.seq, lockToken);
    if (row === undefined) throw new MessageLockLostError(lock.queue, lock.messageId);
    this.insertDeadLetter(row, reason, this.clock.now().getTime());
  }

  private moveToDeadLetters(row: MessageRow, reason: string, now: number): void {
    this.statements.deleteBySeq.run(row.seq);
    this.insertDeadLetter(row, reason, now);
  }

  /** Dead letters are kept: whatever a sender put in a field named like a secret is not kept with them. */
  private insertDeadLetter(row: MessageRow, reason: string, now: number): void {
    this.statements.insertDeadLetter.run(row.queue, row.message_id, row.session_id, redactedBody(row.body), row.enqueued_at, row.delivery_count, reason, now);
  }

  /**
   * Unlocks a session this lock still holds (another receive may have taken it over after expiry).
   * An unlocked session is refreshed too: its message was received without sessions.
   */
  private releaseSession(queue: QueueName, sessionId: string, lockToken: string): void {
    const current = this.statements.sessionLock.get(queue, sessionId);
    if (current === undefined || (current.lock_token !== null && current.lock_token !== lockToken)) return;
    this.refreshSession(queue, sessionId);
  }

  /** Makes the session available from its earliest visible message, or drops it when it has none left. */
  private refreshSession(queue: QueueName, sessionId: string): void {
    const { next } = this.statements.nextVisible.get(queue, sessionId) ?? { next: null };
    if (next === null) this.statements.deleteSession.run(queue, sessionId);
    else this.statements.refreshSession.run(next, queue, sessionId);
  }

  private nextLockToken(): string {
    this.lockCounter += 1;
    return `${this.instanceId}.${this.lockCounter}`;
  }

  private hold(row: MessageRow, lockToken: string, lockedUntil: number): LockedMessage {
    this.held.set(lockToken, { seq: row.seq, queue: row.queue, sessionId: row.session_id, messageId: row.message_id });
    return {
      queue: row.queue,
      lockToken,
      lockedUntil: new Date(lockedUntil),
      messageId: row.message_id,
      ...(row.session_id === null ? {} : { sessionId: row.session_id }),
      deliveryCount: row.delivery_count + 1,
      enqueuedAt: new Date(row.enqueued_at),
      body: JSON.parse(row.body) as unknown,
      ...(row.trace_context === null ? {} : { traceContext: JSON.parse(row.trace_context) as Record<string, string> }),
    };
  }
}

/** Tags this queue's dead-letter cursors. */
const deadLetterListing = 'sqlite-queue';

function deadLetterRowId(id: string): number | undefined {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : undefined;
}

function expiredReason(row: MessageRow): string {
  return `MaxDeliveryCountExceeded: the lock expired on delivery ${row.delivery_count}${row.last_error === null ? '' : `; last error: ${row.last_error}`}`;
}
