import type { ServiceBusMessage, ServiceBusMessageBatch } from '@azure/service-bus';
import type { QueueSender, QueueSenderFactory } from '../../src/adapters/servicebus/servicebus-message-sender';
import { ServiceBusMessageSender } from '../../src/adapters/servicebus/servicebus-message-sender';
import type { QueueName } from '../../src/domain/ports/work-queue';

/** A batch that holds at most `capacity` messages, standing in for the byte limit of a real one. */
class FakeBatch implements ServiceBusMessageBatch {
  readonly messages: ServiceBusMessage[] = [];
  readonly maxSizeInBytes = 262_144;

  constructor(private readonly capacity: number) {}

  get count(): number {
    return this.messages.length;
  }
  get sizeInBytes(): number {
    return this.messages.length;
  }
  tryAddMessage(message: ServiceBusMessage): boolean {
    if (this.messages.length >= this.capacity || (message.body as { huge?: boolean }).huge === true) return false;
    this.messages.push(message);
    return true;
  }
}

/** Records every batch it is asked to send. */
class FakeSender implements QueueSender {
  readonly sent: ServiceBusMessage[][] = [];
  batchOptions: unknown[] = [];
  closed = false;

  constructor(private readonly batchCapacity: number) {}

  async createMessageBatch(options?: unknown): Promise<ServiceBusMessageBatch> {
    this.batchOptions.push(options);
    return new FakeBatch(this.batchCapacity);
  }
  async sendMessages(batch: unknown): Promise<void> {
    if (!(batch instanceof FakeBatch)) throw new Error('expected a batch');
    this.sent.push([...batch.messages]);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

class FakeFactory implements QueueSenderFactory {
  readonly senders = new Map<QueueName, FakeSender>();
  closed = false;

  constructor(private readonly batchCapacity = 100) {}

  createSender(queue: QueueName): FakeSender {
    const sender = new FakeSender(this.batchCapacity);
    this.senders.set(queue, sender);
    return sender;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

describe('ServiceBusMessageSender', () => {
  it('builds messages with id, session, JSON body and content type, and schedules with scheduledEnqueueTimeUtc', async () => {
    const factory = new FakeFactory();
    const sender = new ServiceBusMessageSender(factory);
    const at = new Date('2030-01-01T00:05:00.000Z');
    await sender.send('provisioning', [
      { messageId: 'reconcile:c1:u1:1', sessionId: 'u1', body: { connectionId: 'c1', userId: 'u1' } },
      { messageId: 'retry:c1:u1:2', sessionId: 'u1', body: { connectionId: 'c1', userId: 'u1', attempt: 2 }, scheduledEnqueueTime: at },
    ]);
    expect(factory.senders.get('provisioning')!.sent).toEqual([
      [
        { messageId: 'reconcile:c1:u1:1', sessionId: 'u1', body: { connectionId: 'c1', userId: 'u1' }, contentType: 'application/json' },
        { messageId: 'retry:c1:u1:2', sessionId: 'u1', body: { connectionId: 'c1', userId: 'u1', attempt: 2 }, contentType: 'application/json', scheduledEnqueueTimeUtc: at },
      ],
    ]);
  });

  it('carries the trace context in application properties, with Diagnostic-Id for the Functions trigger', async () => {
    const factory = new FakeFactory();
    const sender = new ServiceBusMessageSender(factory);
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await sender.send('provisioning', [
      { messageId: 'a', sessionId: 's', body: { n: 1 }, traceContext: { traceparent, tracestate: 'vendor=1' } },
      { messageId: 'b', sessionId: 's', body: { n: 2 } },
    ]);
    const [traced, untraced] = factory.senders.get('provisioning')?.sent.flat() ?? [];
    expect(traced).toMatchObject({ messageId: 'a', sessionId: 's', body: { n: 1 }, applicationProperties: { traceparent, tracestate: 'vendor=1', 'Diagnostic-Id': traceparent } });
    expect(untraced?.applicationProperties).toBeUndefined();
  });

  it('leaves sessionId off messages of a queue without sessions', async () => {
    const factory = new FakeFactory();
    await new ServiceBusMessageSender(factory).send('imports', [{ messageId: 'job-1', body: { jobId: 'job-1' } }]);
    const [[sent]] = factory.senders.get('imports')!.sent as [[ServiceBusMessage]];
    expect(sent).not.toHaveProperty('sessionId');
    expect(sent).not.toHaveProperty('scheduledEnqueueTimeUtc');
  });

  it('never mixes sessions in a batch, keeps each session in order and splits full batches', async () => {
    const factory = new FakeFactory(2);
    const sender = new ServiceBusMessageSender(factory);
    await sender.send('provisioning', [
      { messageId: 'a1', sessionId: 'a', body: 1 },
      { messageId: 'b1', sessionId: 'b', body: 2 },
      { messageId: 'a2', sessionId: 'a', body: 3 },
      { messageId: 'a3', sessionId: 'a', body: 4 },
    ]);
    const batches = factory.senders.get('provisioning')!.sent.map((batch) => batch.map((m) => `${String(m.sessionId)}:${String(m.messageId)}`));
    expect(batches).toHaveLength(3);
    expect(batches).toEqual(expect.arrayContaining([['a:a1', 'a:a2'], ['a:a3'], ['b:b1']]));
    expect(batches.indexOf(batches.find((b) => b[0] === 'a:a1')!)).toBeLessThan(batches.indexOf(batches.find((b) => b[0] === 'a:a3')!));
  });

  it('refuses a message too large for any batch instead of dropping it', async () => {
    const factory = new FakeFactory();
    const sender = new ServiceBusMessageSender(factory);
    await expect(sender.send('imports', [{ messageId: 'ok', body: {} }, { messageId: 'big', body: { huge: true } }])).rejects.toThrow(/big.*larger/);
  });

  it('reuses one sender per queue, pings by opening a link without sending, and closes everything', async () => {
    const factory = new FakeFactory();
    const sender = new ServiceBusMessageSender(factory);
    await sender.send('imports', [{ messageId: 'a', body: {} }]);
    await sender.send('imports', [{ messageId: 'b', body: {} }]);
    const imports = factory.senders.get('imports')!;
    expect(imports.sent).toHaveLength(2);
    await sender.ping();
    const pinged = factory.senders.get('provisioning')!;
    expect(pinged.batchOptions).toEqual([expect.objectContaining({ abortSignal: expect.any(AbortSignal) })]);
    expect(pinged.sent).toEqual([]);
    await sender.close();
    expect([imports.closed, pinged.closed, factory.closed]).toEqual([true, true, true]);
  });
});
