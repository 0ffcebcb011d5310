import nodemailer from 'nodemailer';
import type { Mail, MailFailure, MailTransport } from '../../domain/ports/mail-transport';
import { err, ok, type Result } from '../../domain/result';
import { noticeMessage } from './notice-message';

/** How the connection to the relay is protected. */
export type SmtpTls = 'starttls' | 'implicit' | 'none';

export interface SmtpSettings {
  readonly host: string;
  readonly port: number;
  /** `starttls` (port 587, refused when the relay does not offer it), `implicit` (port 465), `none` (a relay on this machine only). */
  readonly tls: SmtpTls;
  readonly user?: string | undefined;
  readonly password?: string | undefined;
  /** The sender address, also the Message-ID domain. */
  readonly from: string;
  /** Trusted certificate authorities besides the system's (a relay with a private CA). */
  readonly ca?: string | Buffer;
  /** Per connection, greeting and socket step. */
  readonly timeoutMs?: number;
}

/**
 * Failures that may pass later: the connection, TLS and authentication (an admin fixes the relay's
 * settings while notices wait), and anything 4xx.
 */
const retryableCodes = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL', 'EAUTH', 'ENOAUTH', 'EREQUIRETLS', 'EHLO', 'EPROXY', 'ESTREAM']);
const authReplies = new Set([530, 534, 535, 538]);

interface NodemailerError {
  readonly code?: string;
  /** The SMTP command answered (`CONN`, `STARTTLS`, `AUTH PLAIN`, `MAIL FROM`, `RCPT TO`, `DATA`...). */
  readonly command?: string;
  readonly responseCode?: number;
  readonly response?: string;
  readonly message?: string;
}

/** Commands whose refusal is about this message or its recipient, not the relay's settings. */
const messageCommands = /^(MAIL FROM|RCPT TO|DATA)\b/;

/** What a failed send means for the notice: a 5xx to the message or its recipient is final, the rest may pass. */
export function classifySmtpError(error: unknown): MailFailure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as NodemailerError;
  const message = (e.response ?? e.message ?? String(error)).slice(0, 500);
  if (typeof e.responseCode === 'number') {
    const aboutMessage = e.command === undefined || messageCommands.test(e.command);
    if (e.responseCode >= 500 && aboutMessage && !authReplies.has(e.responseCode)) return { kind: 'permanent', message: `${e.responseCode} ${message}` };
    return { kind: 'transient', message: `${e.responseCode} ${message}` };
  }
  return { kind: e.code !== undefined && retryableCodes.has(e.code) ? 'transient' : 'permanent', message: e.code === undefined ? message : `${e.code}: ${message}` };
}

/**
 * Mail through an SMTP relay (Exchange Online, Azure Communication Services, any submission
 * server) with nodemailer. One connection per mail: notices are few and far between, and nothing
 * is left open when the host stops. The password is only ever handed to nodemailer.
 */
export function createSmtpMailTransport(settings: SmtpSettings): MailTransport {
  const timeoutMs = settings.timeoutMs ?? 30_000;
  const transporter = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.tls === 'implicit',
    requireTLS: settings.tls === 'starttls',
    ignoreTLS: settings.tls === 'none',
    ...(settings.user === undefined ? {} : { auth: { user: settings.user, pass: settings.password ?? '' } }),
    ...(settings.ca === undefined ? {} : { tls: { ca: settings.ca } }),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    logger: false,
    debug: false,
  });
  return {
    async deliver(mail: Mail): Promise<Result<void, MailFailure>> {
      try {
        await transporter.sendMail(noticeMessage(mail, settings.from));
        return ok(undefined);
      } catch (error) {
        return err(classifySmtpError(error));
      }
    },
  };
}
