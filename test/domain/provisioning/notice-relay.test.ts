import type { Mail, MailFailure, MailTransport } from '../../../src/domain/ports/mail-transport';
import type { MessageSender, OutgoingMessage, QueueName } from '../../../src/domain/ports/work-queue';
import { err, ok, type Result } from '../../../src/domain/result';
import { handleNoticeMessage, noticeRetryBackoff, QueuedNoticeSender, type NoticeMessage, type NoticeRelayDeps } from '../../../src/domain/provisioning/notice-relay';
import { silentLogger } from './provisioning-harness';
import { ManualClock } from '../../support/manual-clock';

const notice = { id: 'binding-conn-1-user-1-abc', to: 'ada.lovelace@contoso.com', toName: 'Ada Lovelace', subject: 'Your Microsoft 365 account at Contoso', text: 'Hello Ada' };

class RecordingSender implements MessageSender {
  readonly sent: { queue: QueueName; message: OutgoingMessage }[] = [];
  async send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ queue, message });
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

class ScriptedTransport implements MailTransport {
  readonly delivered: Mail[] = [];
  constructor(private readonly answers: (MailFailure | 'ok')[]) {}
  async deliver(mail: Mail): Promise<Result<void, MailFailure>> {
    const answer = this.answers.shift() ?? 'ok';
    if (answer !== 'ok') return err(answer);
    this.delivered.push(mail);
    return ok(undefined);
  }
}

describe('notice relay', () => {
  let clock: ManualClock;
  let sender: RecordingSender;
  const deps = (transport: MailTransport, maxAttempts = 3): NoticeRelayDeps => ({ transport, sender, clock, logger: silentLogger, maxAttempts });

  beforeEach(() => {
    clock = new ManualClock(Date.parse('2025-03-01T09:00:00.000Z'));
    sender = new RecordingSender();
  });

  it('queues a notice as one message whose id comes from the notice, so a second send collapses into it', async () => {
    await new QueuedNoticeSender(sender).send(notice);
    await new QueuedNoticeSender(sender).send(notice);
    expect(sender.sent.map((s) => [s.queue, s.message.messageId])).toEqual([
      ['notices', `notice:${notice.id}`],
      ['notices', `notice:${notice.id}`],
    ]);
    expect(sender.sent[0]?.message.body).toEqual({ notice, attempt: 0 });
  });

  it('hands the notice to the relay and completes', async () => {
    const transport = new ScriptedTransport(['ok']);
    expect(await handleNoticeMessage(deps(transport), { notice, attempt: 0 })).toEqual({ kind: 'complete', detail: 'delivered' });
    expect(transport.delivered).toEqual([notice]);
    expect(sender.sent).toEqual([]);
  });

  it('schedules a transient refusal again with backoff under a new message id, and dead-letters after the last attempt', async () => {
    const transport = new ScriptedTransport([
      { kind: 'transient', message: '421 busy' },
      { kind: 'transient', message: '421 still busy' },
      { kind: 'transient', message: 'ESOCKET: connect ECONNREFUSED' },
    ]);
    const relay = deps(transport, 3);
    let body: NoticeMessage = { notice, attempt: 0 };
    for (const attempt of [0, 1]) {
      const settled = await handleNoticeMessage(relay, body);
      expect(settled).toMatchObject({ kind: 'complete', detail: expect.stringMatching(new RegExp(`^retry ${attempt + 2} in \\d+ s$`)) });
      const next = sender.sent.at(-1)?.message;
      expect(next?.messageId).toBe(`notice:${notice.id}~${attempt + 1}`);
      const waitMs = (next?.scheduledEnqueueTime?.getTime() ?? 0) - clock.now().getTime();
      const base = noticeRetryBackoff.firstMs * 2 ** attempt;
      expect(waitMs).toBeGreaterThanOrEqual(base * 0.8);
      expect(waitMs).toBeLessThanOrEqual(base * 1.2);
      body = next?.body as NoticeMessage;
      expect(body).toEqual({ notice, attempt: attempt + 1 });
    }
    expect(await handleNoticeMessage(relay, body)).toEqual({ kind: 'dead_letter', reason: 'the mail relay did not take the notice after 3 attempts: ESOCKET: connect ECONNREFUSED' });
    expect(sender.sent).toHaveLength(2);
    expect(transport.delivered).toEqual([]);
  });

  it('dead-letters a notice the relay refuses for good, and a message that is not a notice', async () => {
    const transport = new ScriptedTransport([{ kind: 'permanent', message: '550 Mailbox unavailable' }]);
    expect(await handleNoticeMessage(deps(transport), { notice, attempt: 0 })).toEqual({ kind: 'dead_letter', reason: 'the mail relay refused the notice: 550 Mailbox unavailable' });
    expect(await handleNoticeMessage(deps(transport), { notice: { ...notice, to: '' } })).toEqual({ kind: 'dead_letter', reason: expect.stringMatching(/^not a notice message: notice\.to/) });
    expect(sender.sent).toEqual([]);
  });
});
