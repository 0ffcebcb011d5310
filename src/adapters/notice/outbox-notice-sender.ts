import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../domain/ports/clock';
import type { Notice, NoticeSender } from '../../domain/provisioning/binding-notice';

// RFC 2047 encoded-word for header text that is not plain ASCII.
function headerText(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

function mailbox(name: string, address: string): string {
  const display = /^[A-Za-z0-9 .'-]*$/.test(name) ? `"${name}"` : headerText(name);
  return `${display} <${address}>`;
}

/** A notice as an RFC 5322 message: CRLF lines, UTF-8 body in base64 so no line exceeds 78 characters. */
export function toEml(notice: Notice, from: string, date: Date): string {
  const body = Buffer.from(notice.text.replace(/\r?\n/g, '\r\n'), 'utf8').toString('base64').replace(/.{76}/g, '$&\r\n');
  const domain = from.slice(from.lastIndexOf('@') + 1);
  return [
    `From: ${mailbox('m365-bridge', from)}`,
    `To: ${mailbox(notice.toName, notice.to)}`,
    `Subject: ${headerText(notice.subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${notice.id}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    body,
    '',
  ].join('\r\n');
}

/**
 * Writes each notice as `<DATA_DIR>/outbox/<id>.eml` (the local stand-in for a mail relay). The
 * file name is the notice id, so sending a notice again replaces it; a temporary file and a rename
 * keep half-written messages out of the folder.
 */
export class OutboxNoticeSender implements NoticeSender {
  constructor(
    private readonly dir: string,
    private readonly from: string,
    private readonly clock: Clock,
  ) {}

  private folderReady = false;

  // Synchronous on purpose: a notice is under a kilobyte on local disk, and fs/promises spends more
  // CPU on its thread-pool round trips than the write itself costs.
  async send(notice: Notice): Promise<void> {
    if (!this.folderReady) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.folderReady = true;
    }
    const file = path.join(this.dir, `${notice.id.replace(/[^A-Za-z0-9._-]/g, '_')}.eml`);
    const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(temporary, toEml(notice, this.from, this.clock.now()), { mode: 0o600 });
    renameSync(temporary, file);
  }
}
