import { classifySmtpError, createSmtpMailTransport } from '../../src/adapters/notice/smtp-mail-transport';
import { loopbackCertificatePem } from '../../src/adapters/sandbox/loopback-tls';
import type { Mail } from '../../src/domain/ports/mail-transport';
import { recipientsOf } from '../support/mail-headers';
import { startSmtpRelay, type SmtpRelay } from '../support/smtp-relay';

const mail: Mail = { id: 'binding-conn-1-user-1-abc', to: 'ada.lovelace@contoso.com', toName: 'Ada Lovelace', subject: 'Your Microsoft 365 account at Contoso', text: 'Hello Ada,\n\nYour sign-in name is ada.lovelace@contoso.com.' };

describe('SMTP mail transport, against a real SMTP server on loopback', () => {
  let relay: SmtpRelay;
  const credentials = { user: 'relay-user', password: 'relay-Passw0rd-not-logged' };

  beforeAll(async () => {
    relay = await startSmtpRelay({ credentials });
  });

  afterAll(async () => {
    await relay.close();
  });

  const transport = (overrides: Partial<Parameters<typeof createSmtpMailTransport>[0]> = {}) =>
    createSmtpMailTransport({ host: '127.0.0.1', port: relay.port, tls: 'starttls', ...credentials, from: 'no-reply@bridge.example', ca: loopbackCertificatePem, timeoutMs: 5_000, ...overrides });

  it('delivers over STARTTLS with the login, the sender, the recipient and the notice id as Message-ID', async () => {
    const before = relay.received.length;
    expect(await transport().deliver(mail)).toEqual({ ok: true, value: undefined });
    const got = relay.received.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ from: 'no-reply@bridge.example', to: ['ada.lovelace@contoso.com'], user: credentials.user });
    expect(got[0]?.raw).toMatch(/^Message-ID: <binding-conn-1-user-1-abc@bridge\.example>\r$/m);
    expect(got[0]?.raw).toMatch(/^To: Ada Lovelace <ada\.lovelace@contoso\.com>\r$/m);
    expect(got[0]?.raw).toMatch(/^Subject: Your Microsoft 365 account at Contoso\r$/m);
    expect(got[0]?.raw).toContain('Your sign-in name is ada.lovelace@contoso.com.');
  });

  it('keeps a hostile display name one recipient: quoted or encoded, never raw', async () => {
    for (const toName of ['Evil <attacker@evil.example>, Victim', 'Zoë "Q" <x@evil.example>,\r\nBcc: spy@evil.example']) {
      const before = relay.received.length;
      expect(await transport().deliver({ ...mail, toName })).toEqual({ ok: true, value: undefined });
      const got = relay.received[before];
      expect(got?.to).toEqual(['ada.lovelace@contoso.com']);
      expect(recipientsOf(got?.raw ?? '')).toEqual([{ name: toName, address: 'ada.lovelace@contoso.com' }]);
      expect(got?.raw).not.toMatch(/^Bcc:/im);
    }
  });

  it('reports a recipient the relay refuses for good (550) as permanent, and one refused for now (451) as transient', async () => {
    relay.refuseNextRecipient(550, 'Mailbox unavailable');
    expect(await transport().deliver(mail)).toEqual({ ok: false, error: { kind: 'permanent', message: expect.stringMatching(/^550 .*Mailbox unavailable/) } });
    relay.refuseNextRecipient(451, 'Try again later');
    expect(await transport().deliver(mail)).toEqual({ ok: false, error: { kind: 'transient', message: expect.stringMatching(/^451 .*Try again later/) } });
  });

  it('reports a wrong password as transient (an admin can fix it while the notice waits), without the password in the message', async () => {
    const result = await transport({ password: 'wrong-Passw0rd' }).deliver(mail);
    expect(result).toMatchObject({ ok: false, error: { kind: 'transient', message: expect.stringMatching(/^535 /) } });
    expect(JSON.stringify(result)).not.toContain('Passw0rd');
  });

  it('refuses to send over a relay that does not offer STARTTLS when TLS is required', async () => {
    const plain = await startSmtpRelay({ tls: false });
    try {
      const result = await createSmtpMailTransport({ host: '127.0.0.1', port: plain.port, tls: 'starttls', from: 'no-reply@bridge.example', timeoutMs: 5_000 }).deliver(mail);
      expect(result).toMatchObject({ ok: false, error: { kind: 'transient' } });
      expect(plain.received).toHaveLength(0);
      // Without TLS, as allowed for a relay on this machine, it goes through.
      expect(await createSmtpMailTransport({ host: '127.0.0.1', port: plain.port, tls: 'none', from: 'no-reply@bridge.example', timeoutMs: 5_000 }).deliver(mail)).toEqual({ ok: true, value: undefined });
      expect(plain.received).toHaveLength(1);
    } finally {
      await plain.close();
    }
  });

  it('reports a relay that cannot be reached as transient', async () => {
    // Port 1 (tcpmux) has no listener here; a port freed by a closed server could be taken by another test file running alongside.
    expect(await transport({ port: 1 }).deliver(mail)).toMatchObject({ ok: false, error: { kind: 'transient', message: expect.stringMatching(/^(ESOCKET|ECONNECTION): .*ECONNREFUSED/) } });
  });
});

describe('classifySmtpError', () => {
  it('treats 5xx as permanent except authentication replies, 4xx and connection errors as transient', () => {
    expect(classifySmtpError({ responseCode: 553, response: '553 bad address', command: 'RCPT TO' }).kind).toBe('permanent');
    expect(classifySmtpError({ responseCode: 554, response: '554 rejected', command: 'DATA' }).kind).toBe('permanent');
    expect(classifySmtpError({ responseCode: 500, response: '500 command not recognized', command: 'STARTTLS' }).kind).toBe('transient');
    expect(classifySmtpError({ responseCode: 535, response: '535 auth failed' }).kind).toBe('transient');
    expect(classifySmtpError({ responseCode: 421, response: '421 busy' }).kind).toBe('transient');
    expect(classifySmtpError({ code: 'ETIMEDOUT', message: 'timed out' }).kind).toBe('transient');
    expect(classifySmtpError({ code: 'EENVELOPE', message: 'no recipients' }).kind).toBe('permanent');
  });
});
