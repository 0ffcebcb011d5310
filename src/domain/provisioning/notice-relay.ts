import { z } from 'zod';
import { backoffDelayMs } from '../backoff';
import type { Clock } from '../ports/clock';
import type { Logger } from '../ports/logger';
import type { MailTransport } from '../ports/mail-transport';
import type { MessageSender, QueueName } from '../ports/work-queue';
import type { Notice, NoticeSender } from './binding-notice';
import { parseMessage, type MessageSettlement } from '../queue-messages';

/** The queue notices wait on for the mail relay, so binding never waits for SMTP. */
export const noticeQueue: QueueName = 'notices';

const noticeSchema = z.strictObject({
  id: z.string().min(1).max(256),
  to: z.string().min(3).max(320),
  toName: z.string().max(512),
  subject: z.string().min(1).max(998),
  text: z.string().min(1).max(100_000),
});

/** One notice on the `notices` queue, with the deliveries tried so far. */
export const noticeMessageSchema = z.strictObject({ notice: noticeSchema, attempt: z.number().int().min(0).default(0) });

export type NoticeMessage = z.output<typeof noticeMessageSchema>;

function noticeMessageId(noticeId: string, attempt: number): string {
  return attempt === 0 ? `notice:${noticeId}` : `notice:${noticeId}~${attempt}`;
}

/**
 * The NoticeSender when a mail relay is configured: each notice becomes one message, its id from
 * the notice's, so binding again within the de-duplication window sends nothing twice.
 */
export class QueuedNoticeSender implements NoticeSender {
  constructor(private readonly sender: MessageSender) {}

  async send(notice: Notice): Promise<void> {
    const message: NoticeMessage = { notice: { ...notice }, attempt: 0 };
    await this.sender.send(noticeQueue, [{ messageId: noticeMessageId(notice.id, 0), body: message }]);
  }
}

export interface NoticeRelayDeps {
  readonly transport: MailTransport;
  readonly sender: MessageSender;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Deliveries tried before the notice is dead-lettered with the relay's last answer. */
  readonly maxAttempts: number;
}

/** From one minute, doubling, at most an hour apart: a relay down for a few hours still gets the notice. */
export const noticeRetryBackoff = { firstMs: 60_000, maxMs: 60 * 60_000 };

function redacted(address: string): string {
  const at = address.lastIndexOf('@');
  return at <= 0 ? '***' : `${address[0] ?? ''}***${address.slice(at)}`;
}

/**
 * Hands one notice to the relay. A transient refusal schedules the notice again with backoff (a
 * new message; this one completes, so Service Bus does not redeliver it at once); a permanent one,
 * or the last attempt, dead-letters it with the relay's answer as the reason.
 */
export async function handleNoticeMessage(deps: NoticeRelayDeps, body: unknown): Promise<MessageSettlement> {
  const parsed = parseMessage(noticeMessageSchema, body, 'a notice');
  if (!parsed.ok) return parsed.error;
  const { notice, attempt } = parsed.value;
  const log = deps.logger.child({ noticeId: notice.id, to: redacted(notice.to), attempt: attempt + 1 });
  const delivered = await deps.transport.deliver(notice);
  if (delivered.ok) {
    log.info('notice handed to the mail relay');
    return { kind: 'complete', detail: 'delivered' };
  }
  const failure = delivered.error;
  if (failure.kind === 'permanent') {
    log.error('the mail relay refused the notice for good', { error: failure.message });
    return { kind: 'dead_letter', reason: `the mail relay refused the notice: ${failure.message}` };
  }
  if (attempt + 1 >= deps.maxAttempts) {
    log.error('the notice could not be delivered; giving up', { error: failure.message });
    return { kind: 'dead_letter', reason: `the mail relay did not take the notice after ${attempt + 1} attempts: ${failure.message}` };
  }
  const waitMs = backoffDelayMs(attempt, noticeRetryBackoff);
  const next: NoticeMessage = { notice, attempt: attempt + 1 };
  await deps.sender.send(noticeQueue, [{ messageId: noticeMessageId(notice.id, attempt + 1), body: next, scheduledEnqueueTime: new Date(deps.clock.now().getTime() + waitMs) }]);
  log.warn('the mail relay did not take the notice; it is tried again later', { error: failure.message, retryInMs: waitMs });
  return { kind: 'complete', detail: `retry ${attempt + 2} in ${Math.round(waitMs / 1000)} s` };
}
