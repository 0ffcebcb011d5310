import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../domain/ports/clock';
import type { Notice, NoticeSender } from '../../domain/provisioning/binding-notice';
import { composeNotice } from './notice-message';

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

  // The writes are synchronous on purpose: a notice is under a kilobyte on local disk, and
  // fs/promises spends more CPU on its thread-pool round trips than the write itself costs.
  async send(notice: Notice): Promise<void> {
    const message = await composeNotice(notice, this.from, this.clock.now());
    if (!this.folderReady) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.folderReady = true;
    }
    const file = path.join(this.dir, `${notice.id.replace(/[^A-Za-z0-9._-]/g, '_')}.eml`);
    const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(temporary, message, { mode: 0o600 });
    renameSync(temporary, file);
  }
}
