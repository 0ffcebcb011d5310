import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OutboxNoticeSender } from '../../src/adapters/notice/outbox-notice-sender';
import type { Notice } from '../../src/domain/provisioning/binding-notice';
import { recipientsOf } from '../support/mail-headers';

const notice: Notice = { id: 'binding-conn-1-user-1-0', to: 'victim@contoso.com', toName: 'Ada Lovelace', subject: 'Your Microsoft 365 account at Contoso', text: 'Hello Ada,\n\nYour sign-in name is victim@contoso.com.' };

describe('outbox notice sender', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'outbox-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function written(toName: string): Promise<string> {
    const outbox = path.join(dir, 'outbox');
    await new OutboxNoticeSender(outbox, 'no-reply@bridge.example', { now: () => new Date('2026-02-02T09:00:00Z') }).send({ ...notice, toName });
    const [file] = readdirSync(outbox);
    expect(statSync(path.join(outbox, file as string)).mode & 0o777).toBe(0o600);
    return readFileSync(path.join(outbox, file as string), 'utf8');
  }

  it('writes an RFC 5322 message with the notice id as Message-ID', async () => {
    const eml = await written('Ada Lovelace');
    expect(eml).toMatch(/^From: .*\r\nTo: .*\r\nSubject: Your Microsoft 365 account at Contoso\r\n/);
    expect(eml).toMatch(/^Message-ID: <binding-conn-1-user-1-0@bridge\.example>\r$/m);
    expect(recipientsOf(eml)).toEqual([{ name: 'Ada Lovelace', address: 'victim@contoso.com' }]);
    expect(eml).toContain('Your sign-in name is victim@contoso.com.');
  });

  it.each([
    ['an address list in the name', 'Evil <attacker@evil.example>, Victim'],
    ['quotes, a line break and a header in the name', 'Zoë "Q" <x@evil.example>,\r\nBcc: spy@evil.example'],
    ['a backslash and a group in the name', 'Evil\\" group: a@evil.example;'],
  ])('keeps %s one recipient, quoted or encoded', async (_label, toName) => {
    const eml = await written(toName);
    expect(recipientsOf(eml)).toEqual([{ name: toName, address: 'victim@contoso.com' }]);
    expect(eml).not.toMatch(/^Bcc:/im);
  });
});
