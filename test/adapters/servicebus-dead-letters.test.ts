import Long from 'long';
import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { ServiceBusDeadLetters, type DeadLetterReceiver, type DeadLetterReceiverFactory } from '../../src/adapters/servicebus/servicebus-dead-letters';
import type { MessageSender, OutgoingMessage, QueueName } from '../../src/domain/ports/work-queue';
import { ManualClock } from '../support/manual-clock';

/**
 * A dead-letter sub-queue with the broker's peek-lock rules: a received message stays invisible until
 * completed (gone) or abandoned (back, delivery count up); receive never returns a locked one.
 */
class FakeDeadLetterSubQueue implements DeadLetterReceiverFactory {
  readonly messages: { message: ServiceBusReceivedMessage; locked: boolean }[] = [];
  readonly opened: string[] = [];
  receivers = 0;

  add(sequenceNumber: number, fields: Partial<ServiceBusReceivedMessage>): void {
    this.messages.push({ locked: false, message: { sequenceNumber: Long.fromNumber(sequenceNumber), deliveryCount: 10, enqueuedTimeUtc: new Date('2030-01-01T00:00:00Z'), body: {}, ...fields } as ServiceBusReceivedMessage });
  }

  createReceiver(queue: QueueName, options: { subQueueType: 'deadLetter'; receiveMode: 'peekLock' }): DeadLetterReceiver {
    this.opened.push(`${queue}/${options.subQueueType}/${options.receiveMode}`);
    this.receivers += 1;
    const entry = (message: ServiceBusReceivedMessage) => this.messages.find((m) => m.message === message)!;
    const receiver = {
      peekMessages: async (max: number) => this.messages.slice(0, max).map((m) => m.message),
      receiveMessages: async (max: number) => {
        const free = this.messages.filter((m) => !m.locked).slice(0, max);
        for (const m of free) m.locked = true;
        return free.map((m) => m.message);
      },
      completeMessage: async (message: ServiceBusReceivedMessage) => {
        this.messages.splice(this.messages.indexOf(entry(message)), 1);
      },
      abandonMessage: async (message: ServiceBusReceivedMessage) => {
        entry(message).locked = false;
      },
      close: async () => {
        this.receivers -= 1;
      },
    };
    return receiver as unknown as DeadLetterReceiver;
  }
}

class RecordingSender implements MessageSender {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  async send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ queue, message });
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('ServiceBusDeadLetters', () => {
  let subQueue: FakeDeadLetterSubQueue;
  let sender: RecordingSender;
  let deadLetters: ServiceBusDeadLetters;
  const clock = new ManualClock(new Date('2030-01-02T00:00:00Z'));

  beforeEach(() => {
    subQueue = new FakeDeadLetterSubQueue();
    sender = new RecordingSender();
    deadLetters = new ServiceBusDeadLetters(subQueue, { sender, clock, scanLimit: 120 });
    for (let seq = 1; seq <= 100; seq += 1) subQueue.add(seq, { messageId: `m${seq}`, sessionId: `user-${seq}`, deadLetterReason: 'MaxDeliveryCountExceeded', deadLetterErrorDescription: `attempt ${seq}`, body: { userId: `user-${seq}` } });
  });

  it('lists by peeking the dead-letter sub-queue, with the reason, the sequence number as id and secrets redacted', async () => {
    subQueue.add(101, { messageId: 'leaky', body: { userId: 'u', password: 'Passw0rd-in-clear', note: 'Bearer abc.def.ghi' } });
    const listed = await deadLetters.deadLetters('provisioning', { limit: 200 });
    expect(subQueue.opened[0]).toBe('provisioning/deadLetter/peekLock');
    expect(listed).toHaveLength(101);
    expect(listed[0]).toEqual({ id: '1', messageId: 'm1', sessionId: 'user-1', body: { userId: 'user-1' }, enqueuedAt: new Date('2030-01-01T00:00:00Z'), deliveryCount: 10, reason: 'MaxDeliveryCountExceeded: attempt 1' });
    expect(JSON.stringify(listed[100])).not.toMatch(/Passw0rd|abc\.def/);
    expect(listed[100]!.reason).toBe('unknown');
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
    expect(subQueue.receivers).toBe(0);
  });

  it('resubmits one deep in the sub-queue: sends it under a new id in its session, completes it, gives the others back', async () => {
    expect(await deadLetters.resubmitDeadLetter('provisioning', '77')).toBe(true);
    expect(sender.sent).toEqual([{ queue: 'provisioning', message: { messageId: expect.stringMatching(/^m77~r/), sessionId: 'user-77', body: { userId: 'user-77' } } }]);
    expect(subQueue.messages).toHaveLength(99);
    expect(subQueue.messages.some((m) => m.message.messageId === 'm77')).toBe(false);
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
    expect(subQueue.receivers).toBe(0);
  });

  it('deletes by completing without sending, and answers false for an id it cannot find within its scan', async () => {
    expect(await deadLetters.deleteDeadLetter('provisioning', '5')).toBe(true);
    expect(subQueue.messages).toHaveLength(99);
    expect(await deadLetters.deleteDeadLetter('provisioning', '5')).toBe(false);
    expect(await deadLetters.resubmitDeadLetter('provisioning', 'p-abc')).toBe(false);
    expect(sender.sent).toEqual([]);
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
  });

  it('keeps the dead letter when sending the copy fails', async () => {
    sender.send = async () => {
      throw new Error('namespace unreachable');
    };
    await expect(deadLetters.resubmitDeadLetter('provisioning', '3')).rejects.toThrow('namespace unreachable');
    expect(subQueue.messages).toHaveLength(100);
    expect(subQueue.messages.every((m) => !m.locked)).toBe(true);
  });
});
