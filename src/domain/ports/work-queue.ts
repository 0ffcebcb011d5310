/** The queues the app uses. */
export const queueNames = ['provisioning', 'directory-commands', 'imports', 'group-sync', 'reconcile', 'notices', 'subscriptions', 'plans'] as const;
export type QueueName = (typeof queueNames)[number];

/**
 * The session-enabled queues: every message sent to them needs a `sessionId` (Service Bus refuses
 * one without), and their queue functions are registered with sessions on.
 */
export const sessionQueues: ReadonlySet<QueueName> = new Set<QueueName>(['provisioning', 'group-sync']);

/**
 * W3C Trace Context headers (`traceparent`, optionally `tracestate`) of the work that sent a message,
 * so its handling continues the same trace. Carried beside the body, never in it.
 */
export type TraceContext = Readonly<Record<string, string>>;

export interface OutgoingMessage {
  /** Duplicate ids sent within the de-duplication window are dropped (Service Bus duplicate detection). */
  readonly messageId: string;
  /** Messages of one session are delivered in order, one at a time. Required on session queues. */
  readonly sessionId?: string;
  /** JSON-serialisable body. Never a secret. */
  readonly body: unknown;
  /** Deliver no earlier than this. */
  readonly scheduledEnqueueTime?: Date;
  /** The sender's trace; set by the tracing sender when telemetry is on. */
  readonly traceContext?: TraceContext;
}

/** Sends work messages. Implemented by the SQLite queue (embedded) and Service Bus (Azure). */
export interface MessageSender {
  send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What a queue handler is told about the message it handles. */
export interface DeliveredMessage {
  readonly messageId: string;
  readonly sessionId?: string;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly enqueuedAt: Date;
  readonly body: unknown;
  /** The trace the sender was in, when it sent one. */
  readonly traceContext?: TraceContext;
}
