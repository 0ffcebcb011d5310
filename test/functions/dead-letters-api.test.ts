import { startTestHost, type TestHost } from '../support/test-host';
import { eventually } from '../support/eventually';

type DeadLetterView = { id: string; queue: string; messageId: string; body: unknown; reason: string; deliveryCount: number };

let host: TestHost;
let readerKey: string;
beforeAll(async () => {
  host = await startTestHost({ sandbox: false });
  readerKey = ((await (await host.api('keys', { method: 'POST', json: { name: 'watcher', role: 'reader' } })).json()) as { key: string }).key;
});
afterAll(() => host.close());

async function list(queue: string, key?: string): Promise<DeadLetterView[]> {
  const response = await host.api(`dead-letters?queue=${queue}`, key === undefined ? {} : { headers: { 'x-api-key': key } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { items: DeadLetterView[] }).items;
}


describe('dead letters API', () => {
  it('lists a message dead-lettered on purpose, without the secret it carried, for a reader key', async () => {
    await host.services.sender.send('directory-commands', [{ messageId: 'poison-1', body: { command: 'user.upsert', user: { email: 'not-an-email', password: 'Clear-Passw0rd!' } } }]);
    const dead = await eventually(async () => (await list('directory-commands', readerKey)).find((d) => d.messageId === 'poison-1'));
    expect(dead).toMatchObject({ queue: 'directory-commands', deliveryCount: 1, reason: expect.stringMatching(/email/) });
    expect(JSON.stringify(dead)).not.toContain('Clear-Passw0rd!');

    // A reader may look but not act.
    const forbidden = await host.api(`dead-letters/directory-commands/${dead.id}/resubmit`, { method: 'POST', headers: { 'x-api-key': readerKey } });
    expect(forbidden.status).toBe(403);
  });

  it('resubmits: the message goes back to its queue under a new id and is handled again', async () => {
    await host.services.sender.send('directory-commands', [{ messageId: 'poison-2', body: { command: 'user.upsert', user: { email: 'still bad' } } }]);
    const dead = await eventually(async () => (await list('directory-commands')).find((d) => d.messageId === 'poison-2'));
    const response = await host.api(`dead-letters/directory-commands/${dead.id}/resubmit`, { method: 'POST' });
    expect(response.status).toBe(202);
    // Still malformed, so the worker dead-letters the resubmitted copy: proof it went through the queue again.
    const again = await eventually(async () => (await list('directory-commands')).find((d) => d.messageId.startsWith('poison-2~r')));
    expect(again.id).not.toBe(dead.id);
    expect((await list('directory-commands')).some((d) => d.id === dead.id)).toBe(false);
    expect((await host.api(`dead-letters/directory-commands/${dead.id}/resubmit`, { method: 'POST' })).status).toBe(404);
  });

  it('deletes, answers 404 for an unknown one and 400 naming the field for a bad queue', async () => {
    await host.services.sender.send('directory-commands', [{ messageId: 'poison-3', body: { command: 'unheard-of' } }]);
    const dead = await eventually(async () => (await list('directory-commands')).find((d) => d.messageId === 'poison-3'));
    expect((await host.api(`dead-letters/directory-commands/${dead.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await list('directory-commands')).some((d) => d.id === dead.id)).toBe(false);
    const missing = await host.api(`dead-letters/directory-commands/${dead.id}`, { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');

    const badQueue = await host.api('dead-letters?queue=nowhere');
    expect(badQueue.status).toBe(400);
    expect(JSON.stringify(await badQueue.json())).toMatch(/query\.queue/);
    expect((await host.api('dead-letters?queue=imports', { headers: { 'x-api-key': '' } })).status).toBe(401);
  });

  it('pages with a cursor: no repeats, no gaps, no nextCursor on the last page; a bad cursor is a 400 naming query.cursor', async () => {
    // Commands that can never succeed are set aside at once; the queue also holds the earlier tests' dead letters.
    const sent = Array.from({ length: 5 }, (_, i) => `paged-${i + 1}`);
    await host.services.sender.send('directory-commands', sent.map((messageId) => ({ messageId, body: { command: 'unheard-of' } })));
    await eventually(async () => {
      const listed = await list('directory-commands');
      return sent.every((id) => listed.some((d) => d.messageId === id)) ? listed : undefined;
    });
    const whole = await list('directory-commands');

    type Page = { items: DeadLetterView[]; nextCursor?: string };
    const pages: Page[] = [];
    let cursor: string | undefined;
    do {
      const response = await host.api(`dead-letters?queue=directory-commands&limit=2${cursor === undefined ? '' : `&cursor=${cursor}`}`, { headers: { 'x-api-key': readerKey } });
      expect(response.status).toBe(200);
      const page = (await response.json()) as Page;
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor !== undefined && pages.length < 50);
    expect(pages.length).toBe(Math.ceil(whole.length / 2));
    expect(pages.slice(0, -1).every((page) => page.items.length === 2 && /^[A-Za-z0-9_-]+$/.test(page.nextCursor ?? ''))).toBe(true);
    expect(pages[pages.length - 1]).not.toHaveProperty('nextCursor');
    expect(pages.flatMap((page) => page.items.map((d) => d.id))).toEqual(whole.map((d) => d.id));

    for (const bad of ['not-a-cursor', encodeURIComponent(Buffer.from(JSON.stringify({ l: 'poison-records', p: 'x' })).toString('base64url'))]) {
      const response = await host.api(`dead-letters?queue=directory-commands&cursor=${bad}`);
      expect(response.status).toBe(400);
      const answer = (await response.json()) as { error: { code: string; message: string; details?: { field: string }[] } };
      expect(answer.error.code).toBe('VALIDATION_FAILED');
      expect(answer.error.details).toEqual([expect.objectContaining({ field: 'query.cursor' })]);
    }
    expect((await list('directory-commands')).map((d) => d.id)).toEqual(whole.map((d) => d.id));
  });
});
