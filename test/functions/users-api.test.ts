import { startTestHost, type TestHost } from '../support/test-host';

let host: TestHost;
let readerKey: string;

beforeAll(async () => {
  host = await startTestHost({ sandbox: false });
  const created = await host.api('keys', { method: 'POST', json: { name: 'reader', role: 'reader' } });
  readerKey = ((await created.json()) as { key: string }).key;
});
afterAll(() => host.close());

interface ErrorBody {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}
interface UserBody {
  id: string;
  email: string;
  username: string;
  displayName: string;
  [field: string]: unknown;
}

let sequence = 0;
function uniqueEmail(prefix = 'user'): string {
  sequence += 1;
  return `${prefix}${sequence}.${Date.now()}@example.com`;
}

async function createUser(body: Record<string, unknown>): Promise<UserBody> {
  const response = await host.api('users', { method: 'POST', json: body });
  expect(response.status).toBe(201);
  return (await response.json()) as UserBody;
}

describe('users over HTTP', () => {
  it('creates, reads, lists, patches and deletes a user', async () => {
    const email = uniqueEmail('Ada');
    const created = await host.api('users', { method: 'POST', json: { email: ` ${email.toUpperCase()} `, firstName: 'Ada', lastName: 'Lovelace', phoneNumbers: [{ type: 'mobile', number: '+44 7700 900123' }] } });
    expect(created.status).toBe(201);
    const user = (await created.json()) as UserBody;
    expect(user).toMatchObject({ email: email.toLowerCase(), displayName: 'Ada Lovelace', state: 'active' });
    expect(created.headers.get('location')).toBe(`/api/users/${user.id}`);
    expect(created.headers.get('etag')).toMatch(/^".+"$/);

    const read = await host.api(`users/${user.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(user);

    const listed = (await (await host.api(`users?email=${encodeURIComponent(email.toUpperCase())}`)).json()) as { items: UserBody[] };
    expect(listed.items.map((item) => item.id)).toEqual([user.id]);

    const patched = await host.api(`users/${user.id}`, { method: 'PATCH', json: { jobTitle: 'Analyst', phoneNumbers: null } });
    expect(patched.status).toBe(200);
    const after = (await patched.json()) as UserBody;
    expect(after.jobTitle).toBe('Analyst');
    expect(after).not.toHaveProperty('phoneNumbers');

    expect((await host.api(`users/${user.id}/suspend`, { method: 'POST' })).status).toBe(200);
    expect(((await (await host.api(`users/${user.id}`)).json()) as UserBody).state).toBe('suspended');
    expect((await host.api(`users/${user.id}/activate`, { method: 'POST' })).status).toBe(200);

    expect((await host.api(`users/${user.id}`, { method: 'DELETE' })).status).toBe(204);
    const gone = await host.api(`users/${user.id}`);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as ErrorBody).error.code).toBe('NOT_FOUND');
  });

  it('pages through users with limit and cursor, and filters by text and state', async () => {
    const tag = `pager${Date.now()}`;
    for (let i = 0; i < 3; i++) await createUser({ email: uniqueEmail(), firstName: tag });
    const first = (await (await host.api(`users?q=${tag}&limit=2`)).json()) as { items: UserBody[]; nextCursor?: string };
    expect(first.items).toHaveLength(2);
    const second = (await (await host.api(`users?q=${tag}&limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`)).json()) as { items: UserBody[]; nextCursor?: string };
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeUndefined();
    expect(((await (await host.api(`users?q=${tag}&state=suspended`)).json()) as { items: unknown[] }).items).toHaveLength(0);
    expect((await host.api('users?limit=501')).status).toBe(400);
    expect((await host.api('users?cursor=garbage')).status).toBe(400);
  });

  it('answers 409 for an email that exists in any case', async () => {
    const email = uniqueEmail();
    await createUser({ email });
    const duplicate = await host.api('users', { method: 'POST', json: { email: email.toUpperCase(), username: 'someone-else' } });
    expect(duplicate.status).toBe(409);
    expect(((await duplicate.json()) as ErrorBody).error).toMatchObject({ code: 'CONFLICT', details: [{ field: 'body.email' }] });
  });

  it('gives exactly one 201 for 20 parallel creates of one email', async () => {
    const email = uniqueEmail('race');
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => host.api('users', { method: 'POST', json: { email: i % 2 === 0 ? email : email.toUpperCase(), username: `racer${i}-${sequence}` } }).then((response) => response.status)),
    );
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(19);
  });

  it('needs a key (401) and an admin key to write (403); a reader may read', async () => {
    expect((await fetch(`${host.url}/users`)).status).toBe(401);
    expect((await host.api('users', { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
    expect((await host.api('users', { headers: { 'x-api-key': readerKey } })).status).toBe(200);
    const write = await host.api('users', { method: 'POST', json: { email: uniqueEmail() }, headers: { 'x-api-key': readerKey } });
    expect(write.status).toBe(403);
    expect(((await write.json()) as ErrorBody).error.code).toBe('FORBIDDEN');
  });

  it.each([
    ['unknown field', { email: 'a@example.com', shoeSize: 9 }, 'body.shoeSize'],
    ['bad email', { email: 'not an email' }, 'body.email'],
    ['wrong type', { email: 'a@example.com', firstName: 42 }, 'body.firstName'],
    ['over-long first name', { email: 'a@example.com', firstName: 'x'.repeat(65) }, 'body.firstName'],
    ['username Graph refuses', { email: 'a@example.com', username: 'a b' }, 'body.username'],
    ['bad phone type', { email: 'a@example.com', phoneNumbers: [{ type: 'fax', number: '123456' }] }, 'body.phoneNumbers.0.type'],
  ])('refuses an invalid body (%s) with 400 naming the field, creating nothing', async (_case, body, field) => {
    const response = await host.api('users', { method: 'POST', json: body });
    expect(response.status).toBe(400);
    const error = ((await response.json()) as ErrorBody).error;
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details?.[0]?.field).toBe(field);
    expect(((await (await host.api('users?email=a@example.com')).json()) as { items: unknown[] }).items).toEqual([]);
  });

  it('refuses malformed JSON (400) and a 1 MB body (413)', async () => {
    const malformed = await host.api('users', { method: 'POST', body: '{"email": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as ErrorBody).error.code).toBe('VALIDATION_FAILED');
    const huge = await host.api('users', { method: 'POST', json: { email: uniqueEmail(), jobTitle: 'x'.repeat(1024 * 1024) } });
    expect(huge.status).toBe(413);
  });

  it('answers 422 for a manager that does not exist or is the user itself', async () => {
    expect((await host.api('users', { method: 'POST', json: { email: uniqueEmail(), managerId: 'nobody' } })).status).toBe(422);
    const user = await createUser({ email: uniqueEmail() });
    const self = await host.api(`users/${user.id}`, { method: 'PATCH', json: { managerId: user.id } });
    expect(self.status).toBe(422);
    expect(((await self.json()) as ErrorBody).error.details?.[0]?.field).toBe('body.managerId');
  });

  it('honours If-Match on PATCH with 412 for a stale ETag', async () => {
    const created = await host.api('users', { method: 'POST', json: { email: uniqueEmail() } });
    const user = (await created.json()) as UserBody;
    const etag = created.headers.get('etag')!;
    const first = await host.api(`users/${user.id}`, { method: 'PATCH', json: { jobTitle: 'One' }, headers: { 'if-match': etag } });
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).not.toBe(etag);
    expect((await host.api(`users/${user.id}`, { method: 'PATCH', json: { jobTitle: 'Two' }, headers: { 'if-match': etag } })).status).toBe(412);
  });

  it('sets a password by policy, never showing or logging it', async () => {
    const user = await createUser({ email: uniqueEmail('pw') });
    const password = 'Tr0ub4dor&3-horse-staple';
    expect((await host.api(`users/${user.id}/password`, { method: 'PUT', json: { password: 'short' } })).status).toBe(400);
    expect((await host.api(`users/${user.id}/password`, { method: 'PUT', json: { password: user.email } })).status).toBe(400);
    expect((await host.api(`users/${user.id}/password`, { method: 'PUT', json: { password } })).status).toBe(204);
    expect((await host.api('users/nobody/password', { method: 'PUT', json: { password } })).status).toBe(404);
    const read = await (await host.api(`users/${user.id}`)).text();
    expect(read).not.toMatch(/scrypt|password/i);
    expect(host.logText()).not.toContain(password);
  });
});

describe('a restart', () => {
  it('keeps the users created before it', async () => {
    const first = await startTestHost({ sandbox: false });
    const user = await (await first.api('users', { method: 'POST', json: { email: 'kept@example.com' } })).json() as UserBody;
    await first.close({ keepData: true });
    const second = await startTestHost({ sandbox: false, dataDir: first.dataDir });
    try {
      const read = await second.api(`users/${user.id}`);
      expect(read.status).toBe(200);
      expect(((await read.json()) as UserBody).email).toBe('kept@example.com');
      expect((await second.api('users', { method: 'POST', json: { email: 'KEPT@example.com', username: 'other' } })).status).toBe(409);
    } finally {
      await second.close();
      const { rmSync } = await import('node:fs');
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });
});
