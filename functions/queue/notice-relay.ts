import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { noticeRelayFor } from '../../src/app/notice-services';
import { getServices } from '../../src/app/services';
import { PoisonMessageError } from '../../src/domain/errors';
import { handleNoticeMessage, noticeQueue } from '../../src/domain/provisioning/notice-relay';

/** The `notices` queue: each binding notice handed to the configured SMTP relay, retried with backoff. */
export const noticeRelay: QueueFunctionDefinition = {
  kind: 'queue',
  name: 'notice-relay',
  queueName: noticeQueue,
  sessions: false,
  handler: async (message, context) => {
    const services = await getServices();
    const deps = noticeRelayFor(services);
    // Queued while a relay was configured, read after it was removed: kept as a dead letter with the reason.
    if (deps === undefined) throw new PoisonMessageError('no mail relay is configured (NOTICE_SMTP_HOST is not set); the notice was not sent');
    const settlement = await handleNoticeMessage(deps, message.body);
    if (settlement.kind === 'dead_letter') throw new PoisonMessageError(settlement.reason);
    context.log(`notice message settled: ${settlement.detail}`);
  },
};
