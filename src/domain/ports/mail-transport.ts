import type { Result } from '../result';

/** One plain-text mail to one person. */
export interface Mail {
  /** Stable per occasion; the transport makes it the Message-ID, so a resend is recognisable. */
  readonly id: string;
  readonly to: string;
  readonly toName: string;
  readonly subject: string;
  readonly text: string;
}

/**
 * Why a mail was not accepted. `transient`: try again later (the relay was unreachable, busy, or
 * refused for now: 4xx); `permanent`: it will never be accepted as it is (5xx: no such mailbox,
 * address refused).
 */
export interface MailFailure {
  readonly kind: 'transient' | 'permanent';
  readonly message: string;
}

/** Hands mail to a relay (SMTP in the adapters). */
export interface MailTransport {
  deliver(mail: Mail): Promise<Result<void, MailFailure>>;
}
