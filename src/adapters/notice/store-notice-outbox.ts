import type { Clock } from '../../domain/ports/clock';
import type { DocumentStore } from '../../domain/ports/document-store';
import type { Notice, NoticeSender } from '../../domain/provisioning/binding-notice';

/** The partition of the `state` container that holds notices waiting for the mail relay. */
export const noticeOutboxPartition = 'notice-outbox';

/**
 * In Azure, notices are queued in the document store (`state`, pk `notice-outbox`, 30 days TTL)
 * for the configured mail relay to pick up: the function app itself holds no mail credentials.
 */
export class StoreNoticeOutbox implements NoticeSender {
  constructor(
    private readonly store: DocumentStore,
    private readonly clock: Clock,
  ) {}

  async send(notice: Notice): Promise<void> {
    await this.store.upsert('state', noticeOutboxPartition, notice.id, { ...notice, queuedAt: this.clock.now().toISOString() }, { ttlSeconds: 30 * 24 * 3600 });
  }
}
