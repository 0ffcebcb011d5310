import type { TokenCredential } from '@azure/identity';
import type { ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import { ServiceBusClient } from '@azure/service-bus';
import type { MessageSender, OutgoingMessage, QueueName, TraceContext } from '../../domain/ports/work-queue';
import { queueNames } from '../../domain/ports/work-queue';

/** The part of a Service Bus sender this adapter uses (tests hand in a recording fake). */
export type QueueSender = Pick<ServiceBusSender, 'createMessageBatch' | 'sendMessages' | 'close'>;

/** Hands out one sender per queue; `ServiceBusClient` is one. */
export interface QueueSenderFactory {
  createSender(queue: QueueName): QueueSender;
  close(): Promise<void>;
}

const pingTimeoutMs = 2_000;

/**
 * Sends work messages to Service Bus queues (in Azure the Functions host receives them). Messages
 * are grouped per session and sent in size-bounded batches, because a batch must not mix sessions
 * on a partitioned entity; order within a session is kept, different sessions go out in parallel.
 * Scheduled messages travel in the same batches with `scheduledEnqueueTimeUtc`, which the broker
 * honours like `scheduleMessages` without a round trip per distinct time.
 */
export class ServiceBusMessageSender implements MessageSender {
  private readonly senders = new Map<QueueName, QueueSender>();

  constructor(private readonly factory: QueueSenderFactory) {}

  async send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    const bySession = new Map<string | undefined, ServiceBusMessage[]>();
    for (const message of messages) {
      const group = bySession.get(message.sessionId);
      if (group === undefined) bySession.set(message.sessionId, [toServiceBusMessage(message)]);
      else group.push(toServiceBusMessage(message));
    }
    const sender = this.senderFor(queue);
    await Promise.all([...bySession.values()].map((group) => sendInBatches(sender, group)));
  }

  /**
   * Opens (or reuses) the AMQP link of the first queue's sender: proves the namespace answers and
   * the identity may send, without sending anything.
   */
  async ping(): Promise<void> {
    const first = queueNames[0];
    await this.senderFor(first).createMessageBatch({ abortSignal: AbortSignal.timeout(pingTimeoutMs) });
  }

  async close(): Promise<void> {
    const senders = [...this.senders.values()];
    this.senders.clear();
    await Promise.all(senders.map((sender) => sender.close()));
    await this.factory.close();
  }

  private senderFor(queue: QueueName): QueueSender {
    let sender = this.senders.get(queue);
    if (sender === undefined) {
      sender = this.factory.createSender(queue);
      this.senders.set(queue, sender);
    }
    return sender;
  }
}

/** The production sender: a Service Bus client on `namespace` (e.g. `myns.servicebus.windows.net`) authenticated by `credential`. */
export function createServiceBusMessageSender(namespace: string, credential: TokenCredential): ServiceBusMessageSender {
  return new ServiceBusMessageSender(new ServiceBusClient(namespace, credential));
}

function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  return {
    messageId: message.messageId,
    ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
    body: message.body,
    contentType: 'application/json',
    ...(message.scheduledEnqueueTime === undefined ? {} : { scheduledEnqueueTimeUtc: message.scheduledEnqueueTime }),
    ...(message.traceContext === undefined ? {} : { applicationProperties: traceProperties(message.traceContext) }),
  };
}

/**
 * The trace context as application properties: W3C `traceparent`/`tracestate`, and `Diagnostic-Id`
 * (the same value), which the Functions host's Service Bus trigger and Azure SDK tracing read.
 */
function traceProperties(traceContext: TraceContext): Record<string, string> {
  const properties: Record<string, string> = { ...traceContext };
  const traceparent = traceContext['traceparent'];
  if (traceparent !== undefined) properties['Diagnostic-Id'] = traceparent;
  return properties;
}

async function sendInBatches(sender: QueueSender, messages: readonly ServiceBusMessage[]): Promise<void> {
  let batch = await sender.createMessageBatch();
  for (const message of messages) {
    if (batch.tryAddMessage(message)) continue;
    if (batch.count > 0) {
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      if (batch.tryAddMessage(message)) continue;
    }
    throw new RangeError(`message ${String(message.messageId)} is larger than a Service Bus batch may be (${batch.maxSizeInBytes} bytes)`);
  }
  if (batch.count > 0) await sender.sendMessages(batch);
}
