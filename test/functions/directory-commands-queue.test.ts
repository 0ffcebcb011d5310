import { startTestHost, type TestHost } from '../support/test-host';
import { eventually } from '../support/eventually';

let host: TestHost;
beforeAll(async () => {
  host = await startTestHost({ sandbox: false });
});
afterAll(() => host.close());


describe('directory-commands queue', () => {
  it('applies a user.upsert and a group membership by natural keys', async () => {
    await host.services.sender.send('directory-commands', [
      { messageId: 'upsert-1', body: { command: 'user.upsert', user: { email: 'Queued@Example.com', firstName: 'Queued' } } },
      { messageId: 'group-1', body: { command: 'group.upsert', group: { name: 'Queued people' } } },
    ]);
    const user = await eventually(async () => ((await (await host.api('users?email=queued@example.com')).json()) as { items: { id: string; firstName: string }[] }).items[0]);
    expect(user.firstName).toBe('Queued');
    const group = await eventually(async () => ((await (await host.api('groups?name=queued%20people')).json()) as { items: { id: string }[] }).items[0]);
    await host.services.sender.send('directory-commands', [{ messageId: 'member-1', body: { command: 'group.member.add', groupName: 'Queued People', email: 'queued@example.com' } }]);
    await eventually(async () => ((await (await host.api(`groups/${group.id}/members`)).json()) as { items: { id: string }[] }).items.find((member) => member.id === user.id));
  });

  it('dead-letters a malformed message at once with the validation error naming the field', async () => {
    await host.services.sender.send('directory-commands', [{ messageId: 'bad-1', body: { command: 'user.upsert', user: { email: 'not-an-email' } } }]);
    const deadLetter = await eventually(async () => (await host.services.deadLetters.deadLetters('directory-commands', { limit: 50 })).items.find((message) => message.messageId === 'bad-1'));
    expect(deadLetter.reason).toMatch(/message\.user\.email/);
    expect(deadLetter.deliveryCount).toBe(1);
  });

  it('keeps no password a sender put in a command with its dead letter', async () => {
    await host.services.sender.send('directory-commands', [{ messageId: 'bad-2', body: { command: 'user.upsert', user: { email: 'pw@example.com', password: 'Sender-Passw0rd-in-clear' } } }]);
    const deadLetter = await eventually(async () => (await host.services.deadLetters.deadLetters('directory-commands', { limit: 50 })).items.find((message) => message.messageId === 'bad-2'));
    expect(deadLetter.reason).toMatch(/password/);
    expect(deadLetter.body).toEqual({ command: 'user.upsert', user: { email: 'pw@example.com', password: '[REDACTED]' } });
  });
});
