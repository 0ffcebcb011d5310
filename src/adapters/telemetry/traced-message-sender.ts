import type { MessageSender, OutgoingMessage, QueueName } from '../../domain/ports/work-queue';
import { currentTraceContext, inSpan } from './spans';

/**
 * Sends in a producer span and puts that span's trace context on every message (unless it carries
 * one already), so the consumer continues the sender's trace: the SQLite queue keeps it in a
 * column, Service Bus in application properties.
 */
export class TracedMessageSender implements MessageSender {
  constructor(private readonly inner: MessageSender) {}

  send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    const attributes = { 'messaging.system': 'servicebus', 'messaging.operation.type': 'send', 'messaging.destination.name': queue, 'messaging.batch.message_count': messages.length };
    return inSpan(`send ${queue}`, 'producer', undefined, attributes, () => {
      const traceContext = currentTraceContext();
      return this.inner.send(queue, traceContext === undefined ? messages : messages.map((message) => (message.traceContext === undefined ? { ...message, traceContext } : message)));
    });
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
