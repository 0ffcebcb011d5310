import type { DeliveredMessage, QueueName } from '../../domain/ports/work-queue';

/** A message received under a peek-lock: it stays invisible to others until settled or its lock expires. */
export interface LockedMessage extends DeliveredMessage {
  readonly queue: QueueName;
  /** Identifies this delivery; settling with a token that is no longer current fails with `MessageLockLostError`. */
  readonly lockToken: string;
  /** When the lock expires and the message (or its session) is handed out again unless renewed or settled. */
  readonly lockedUntil: Date;
}

export interface ReceiveOptions {
  readonly maxMessages: number;
  /** Session queue: at most one locked message per session, always the session's oldest available one. */
  readonly sessions: boolean;
}

/** What `abandon` did: the message is back for redelivery, or it ran out of deliveries and was dead-lettered. */
export type AbandonOutcome = 'abandoned' | 'dead_lettered';

/** The receiving side of a work queue with Service Bus peek-lock semantics; the local host pumps it. */
export interface QueueConsumer {
  receive(queue: QueueName, options: ReceiveOptions): Promise<LockedMessage[]>;
  /** Success: the message is removed. */
  complete(message: LockedMessage): Promise<void>;
  /** Failure: the delivery counts; the message comes back, or is dead-lettered once it reached max deliveries. */
  abandon(message: LockedMessage, reason: string): Promise<AbandonOutcome>;
  deadLetter(message: LockedMessage, reason: string): Promise<void>;
  /** Extends the lock of a message whose handler is still running; returns the new expiry. */
  renewLock?(message: LockedMessage): Promise<Date>;
  /** Shutdown: unlocks every message this consumer holds, without counting those deliveries as failed. */
  releaseAll(): Promise<void>;
  /** Calls `listener` when messages were sent in this process, so a pump can wake before its next poll. */
  onAvailable?(listener: (queue: QueueName) => void): () => void;
}

/** Settling failed because the lock expired and the message (or its session) went to another delivery. */
export class MessageLockLostError extends Error {
  readonly code = 'MESSAGE_LOCK_LOST' as const;

  constructor(queue: QueueName, messageId: string) {
    super(`The lock on message ${messageId} of queue ${queue} is no longer held (expired or already settled)`);
    this.name = 'MessageLockLostError';
  }
}
