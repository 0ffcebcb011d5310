import { createSmtpMailTransport } from '../adapters/notice/smtp-mail-transport';
import type { NoticeRelayDeps } from '../domain/provisioning/notice-relay';
import type { Services } from './services';

const wired = new WeakMap<Services, NoticeRelayDeps>();

/** The mail relay's wiring, or undefined when no relay is configured (NOTICE_SMTP_HOST). */
export function noticeRelayFor(services: Services): NoticeRelayDeps | undefined {
  const smtp = services.config.noticeSmtp;
  if (smtp === undefined) return undefined;
  const existing = wired.get(services);
  if (existing !== undefined) return existing;
  const deps: NoticeRelayDeps = {
    transport: createSmtpMailTransport({ ...smtp, from: services.config.noticeFrom }),
    sender: services.sender,
    clock: services.clock,
    logger: services.logger.child({ component: 'notice-relay' }),
    maxAttempts: 12,
  };
  wired.set(services, deps);
  return deps;
}
