import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { loopbackCertificatePem, loopbackPrivateKeyPem } from '../../src/adapters/sandbox/loopback-tls';

export interface ReceivedMail {
  readonly from: string;
  readonly to: string[];
  readonly raw: string;
  readonly user?: string;
}

export interface SmtpRelay {
  readonly port: number;
  readonly received: ReceivedMail[];
  /** Logins tried: user and password as the relay saw them. */
  readonly logins: { user: string; password: string }[];
  /** The reply to give the next RCPT TO (an SMTP code and text), once. */
  refuseNextRecipient(code: number, text: string): void;
  close(): Promise<void>;
}

/**
 * A real SMTP server on loopback (smtp-server), with STARTTLS on the sandbox's loopback certificate
 * unless `tls` is false, accepting one user when `credentials` are given.
 */
export async function startSmtpRelay(options: { tls?: boolean; credentials?: { user: string; password: string } } = {}): Promise<SmtpRelay> {
  const received: ReceivedMail[] = [];
  const logins: { user: string; password: string }[] = [];
  let refusal: { code: number; text: string } | undefined;
  const settings: SMTPServerOptions = {
    secure: false,
    ...(options.tls === false ? { disabledCommands: ['STARTTLS'] } : { key: loopbackPrivateKeyPem, cert: loopbackCertificatePem }),
    authOptional: options.credentials === undefined,
    allowInsecureAuth: false,
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push({ user: auth.username ?? '', password: auth.password ?? '' });
      if (options.credentials !== undefined && auth.username === options.credentials.user && auth.password === options.credentials.password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Authentication failed'), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, callback) {
      if (refusal === undefined) return callback();
      const { code, text } = refusal;
      refusal = undefined;
      callback(Object.assign(new Error(text), { responseCode: code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
        });
        callback();
      });
    },
  };
  if (options.credentials === undefined) delete (settings as { onAuth?: unknown }).onAuth;
  const server = new SMTPServer(settings);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    received,
    logins,
    refuseNextRecipient(code, text) {
      refusal = { code, text };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
