import { existsSync } from 'node:fs';
import path from 'node:path';
import { startTestHost, type TestHost } from '../support/test-host';
import { startSmtpRelay, type SmtpRelay } from '../support/smtp-relay';
import { connectTenant, createUser, eventually, type Json } from './provisioning-support';

describe('binding notices through a configured SMTP relay', () => {
  let relay: SmtpRelay;
  let host: TestHost;
  let connection: Json;

  beforeAll(async () => {
    relay = await startSmtpRelay({ tls: false });
    host = await startTestHost({ env: { NOTICE_SMTP_HOST: '127.0.0.1', NOTICE_SMTP_PORT: String(relay.port), NOTICE_SMTP_TLS: 'none', NOTICE_FROM: 'it@contoso.com' } });
    connection = await connectTenant(host, { domains: ['contoso.com'] });
  }, 30_000);

  afterAll(async () => {
    await host.close();
    await relay.close();
  });

  it('mails the employee once on binding, through the notices queue, and writes no outbox file', async () => {
    const user = await createUser(host, { email: 'notice.one@contoso.com', firstName: 'Notice', lastName: 'One' });
    expect((await host.api(`connections/${connection.id as string}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    const mail = await eventually(async () => relay.received.find((m) => m.to.includes('notice.one@contoso.com')), 10_000, 'the notice to reach the relay');
    expect(mail.from).toBe('it@contoso.com');
    expect(mail.raw).toMatch(/^Subject: Your Microsoft 365 account at /m);
    expect(mail.raw).toContain('Your Microsoft 365 sign-in name is notice.one@contoso.com.');
    // Binding again sends nothing more.
    expect((await host.api(`connections/${connection.id as string}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(relay.received.filter((m) => m.to.includes('notice.one@contoso.com'))).toHaveLength(1);
    expect(existsSync(path.join(host.dataDir, 'outbox'))).toBe(false);
  });

  it('dead-letters a notice the relay refuses for good, with the relay\'s answer as the reason, and the binding carries on', async () => {
    relay.refuseNextRecipient(550, 'Mailbox unavailable');
    const user = await createUser(host, { email: 'notice.two@contoso.com', firstName: 'Notice', lastName: 'Two' });
    expect((await host.api(`connections/${connection.id as string}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    const dead = await eventually(async () => (await host.services.deadLetters.deadLetters('notices', { limit: 50 })).items.find((m) => (m.body as Json).notice.to === 'notice.two@contoso.com'), 10_000, 'the notice to be dead-lettered');
    expect(dead.reason).toMatch(/^the mail relay refused the notice: 550 .*Mailbox unavailable/);
    const binding = await eventually(async () => {
      const current = await (await host.api(`connections/${connection.id as string}/users/${user.id as string}`)).json() as Json;
      return current.state === 'provisioned' ? current : undefined;
    }, 10_000, 'the binding to be provisioned');
    expect(binding.m365UserId).toEqual(expect.any(String));
  });
});
