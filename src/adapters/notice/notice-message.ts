import type { SendMailOptions } from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { Mail } from '../../domain/ports/mail-transport';

/**
 * A notice as nodemailer message options, for the outbox and SMTP alike. Addresses go in as
 * `{name, address}` so nodemailer formats them: a display name is quoted or RFC 2047-encoded,
 * never written raw, so a name like `Evil <a@evil.example>, Victim` (which can arrive from
 * Microsoft 365 through an import) stays one recipient's name.
 */
export function noticeMessage(notice: Mail, from: string, date?: Date): SendMailOptions {
  const domain = from.slice(from.lastIndexOf('@') + 1);
  return {
    from: { name: 'm365-bridge', address: from },
    to: { name: notice.toName, address: notice.to },
    subject: notice.subject,
    text: notice.text,
    messageId: `<${notice.id}@${domain}>`,
    ...(date === undefined ? {} : { date }),
  };
}

/** The notice as an RFC 5322 message (what SMTP would carry), built by nodemailer's own composer. */
export function composeNotice(notice: Mail, from: string, date: Date): Promise<Buffer> {
  return new MailComposer(noticeMessage(notice, from, date)).compile().build();
}
