import { decodeCursorPayload, encodeCursorPayload, InvalidCursorError } from './document-store';
import type { QueueName } from './work-queue';

/** A work message set aside because it could not be processed, with why. */
export interface DeadLetter {
  /** Identifies the dead letter within its queue (URL-safe); the message id may repeat. */
  readonly id: string;
  readonly messageId: string;
  readonly sessionId?: string;
  /** The message body, with secret-named fields and secret-shaped values redacted. */
  readonly body: unknown;
  readonly enqueuedAt: Date;
  readonly deliveryCount: number;
  readonly reason: string;
  /** Absent where the broker does not record it (Service Bus dead-letter sub-queues). */
  readonly deadLetteredAt?: Date;
}

/** One page of dead letters. */
export interface DeadLetterPage {
  readonly items: readonly DeadLetter[];
  /** Pass back as `cursor` for the next page (opaque, URL-safe); absent on the last page. */
  readonly nextCursor?: string;
}

/**
 * The dead letters of the work queues: the embedded queue's table locally; in Azure the Service
 * Bus dead-letter sub-queues plus the poison records the queue functions keep in the store.
 */
export interface DeadLetterQueue {
  /**
   * A page of up to `limit` dead letters of `queue`, from `cursor` (a `nextCursor` of the same
   * listing) or from the start. Pages never repeat or skip a dead letter that stays where it is.
   * Throws `InvalidCursorError` for a cursor this listing did not issue.
   */
  deadLetters(queue: QueueName, options: { limit: number; cursor?: string }): Promise<DeadLetterPage>;
  /** Sends the message back to its queue under a new message id, then removes the dead letter; false when there is none with that id. */
  resubmitDeadLetter(queue: QueueName, id: string): Promise<boolean>;
  /** Removes the dead letter for good; false when there is none with that id. */
  deleteDeadLetter(queue: QueueName, id: string): Promise<boolean>;
}

const maxMessageIdLength = 128;

/**
 * The message id a resubmitted copy is sent under: the original one would be dropped by duplicate
 * detection inside its window, and a fresh one keeps the original recognisable in logs.
 */
export function resubmittedMessageId(messageId: string, now: Date): string {
  const suffix = `~r${now.getTime().toString(36)}`;
  return `${messageId.slice(0, maxMessageIdLength - suffix.length)}${suffix}`;
}

/**
 * The cursor of a dead-letter listing: `position` (a string of the listing's own) tagged with
 * `listing`, so a cursor of another listing, or of another list of the API, is refused.
 */
export function encodeDeadLetterCursor(listing: string, position: string): string {
  return encodeCursorPayload({ l: listing, p: position });
}

/** The position in a cursor of `listing`; `InvalidCursorError` for anything else. */
export function decodeDeadLetterCursor(listing: string, cursor: string): string {
  const { l, p } = decodeCursorPayload(cursor);
  if (l !== listing || typeof p !== 'string') throw new InvalidCursorError();
  return p;
}
