import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { contoso, startGraphFixture, type GraphFixture } from './sandbox-test-client';
import { eventually } from '../support/eventually';

interface Received {
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly body: string;
}

/** A notification endpoint on loopback that answers as told and records what it got. */
async function startReceiver(): Promise<{ url: string; received: Received[]; answer: { status: number }; close(): Promise<void> }> {
  const received: Received[] = [];
  const answer = { status: 202 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ query: url.searchParams, contentType: req.headers['content-type'], body });
      const token = url.searchParams.get('validationToken');
      if (token !== null) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(token);
        return;
      }
      res.writeHead(answer.status);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, received, answer, close: () => new Promise((resolve) => server.close(() => resolve())) };
}


/** The change notifications (not validations) received, flattened. */
function notifications(received: readonly Received[]): Record<string, unknown>[] {
  return received.filter((r) => !r.query.has('validationToken')).flatMap((r) => (JSON.parse(r.body) as { value: Record<string, unknown>[] }).value);
}

describe('sandbox change notifications (subscriptions on users and groups)', () => {
  let fixture: GraphFixture;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeEach(async () => {
    // Time scale 1000: retries after 1 ms, 2 ms...; reauthorizationRequired 3.6 s before expiry.
    fixture = await startGraphFixture({ timeScale: 1000 });
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await fixture.sandbox.close();
    await receiver.close();
  });

  const subscribe = (resource: string, extra: Record<string, unknown> = {}) =>
    fixture.graph('/subscriptions', {
      method: 'POST',
      body: { changeType: 'updated,deleted', notificationUrl: receiver.url, lifecycleNotificationUrl: receiver.url, resource, expirationDateTime: new Date(Date.now() + 24 * 3600_000).toISOString(), clientState: 'secret-state', ...extra },
    });

  it('validates both URLs, then delivers a batch of changes in the documented shape', async () => {
    const created = await subscribe('/users');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ resource: '/users', changeType: 'updated,deleted', clientState: 'secret-state', notificationUrl: receiver.url, lifecycleNotificationUrl: receiver.url, applicationId: 'sandbox-client' });
    expect(created.body.expirationDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$/);
    expect(receiver.received.filter((r) => r.query.has('validationToken'))).toHaveLength(2);

    const user = (await fixture.graph(`/users/${encodeURIComponent(contoso.helpdeskUpn)}?$select=id`)).body.id as string;
    // Sent together, so that both land inside the sandbox's 50 ms batching window even on a loaded machine.
    const patched = await Promise.all(['One', 'Two'].map((jobTitle) => fixture.graph(`/users/${user}`, { method: 'PATCH', body: { jobTitle } })));
    expect(patched.map((response) => response.status)).toEqual([204, 204]);
    const items = await eventually(() => (notifications(receiver.received).length === 2 ? notifications(receiver.received) : undefined));
    expect(receiver.received.filter((r) => !r.query.has('validationToken'))).toHaveLength(1);
    expect(items[0]).toEqual({
      changeType: 'updated',
      clientState: 'secret-state',
      resource: `Users/${user}`,
      resourceData: { '@odata.type': '#Microsoft.Graph.User', '@odata.id': `Users/${user}`, id: user, organizationId: contoso.id, eventTime: expect.any(String), sequenceNumber: expect.any(Number) },
      subscriptionExpirationDateTime: created.body.expirationDateTime,
      subscriptionId: created.body.id,
      tenantId: contoso.id,
    });
  });

  it('refuses a subscription whose endpoint does not echo the token, one beyond 41,760 minutes, and one on another resource', async () => {
    const silent = await subscribe('/users', { notificationUrl: 'http://127.0.0.1:1/nothing' });
    expect(silent.status).toBe(400);
    expect(silent.body.error).toMatchObject({ code: 'InvalidRequest', message: expect.stringContaining('validation request failed') });
    const tooLong = await subscribe('/groups', { expirationDateTime: new Date(Date.now() + 41_761 * 60_000 + 120_000).toISOString() });
    expect(tooLong.status).toBe(400);
    expect((await subscribe('/me/messages')).status).toBe(400);
    expect((await fixture.graph('/subscriptions')).body.value).toEqual([]);
  });

  it('retries a delivery the endpoint failed, and renews and deletes on request', async () => {
    const created = await subscribe('/groups');
    receiver.answer.status = 503;
    const group = (await fixture.graph('/groups?$select=id&$top=1')).body.value[0].id as string;
    expect((await fixture.graph(`/groups/${group}`, { method: 'PATCH', body: { description: 'changed' } })).status).toBe(204);
    await eventually(() => (notifications(receiver.received).length >= 2 ? true : undefined));
    receiver.answer.status = 202;
    const before = notifications(receiver.received).length;
    await eventually(() => (fixture.sandbox.control.listSubscriptions().length === 1 && notifications(receiver.received).length > before ? true : undefined));
    expect(notifications(receiver.received).every((n) => n.resource === `Groups/${group}`)).toBe(true);

    const renewed = await fixture.graph(`/subscriptions/${created.body.id as string}`, { method: 'PATCH', body: { expirationDateTime: new Date(Date.now() + 48 * 3600_000).toISOString() } });
    expect(renewed.status).toBe(200);
    expect(Date.parse(renewed.body.expirationDateTime)).toBeGreaterThan(Date.parse(created.body.expirationDateTime));
    expect((await fixture.graph(`/subscriptions/${created.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fixture.graph(`/subscriptions/${created.body.id as string}`)).status).toBe(404);
  });

  it('asks for reauthorization before expiry and reports the removal at expiry', async () => {
    const created = await subscribe('/users', { expirationDateTime: new Date(Date.now() + 1_000).toISOString() });
    expect(created.status).toBe(201);
    const events = await eventually(() => {
      const lifecycle = notifications(receiver.received).filter((n) => n.lifecycleEvent !== undefined);
      return lifecycle.length === 2 ? lifecycle : undefined;
    });
    expect(events.map((e) => e.lifecycleEvent)).toEqual(['reauthorizationRequired', 'subscriptionRemoved']);
    expect(events[0]).toEqual({ lifecycleEvent: 'reauthorizationRequired', subscriptionId: created.body.id, subscriptionExpirationDateTime: created.body.expirationDateTime, clientState: 'secret-state', tenantId: contoso.id });
    expect((await fixture.graph('/subscriptions')).body.value).toEqual([]);
  });
});
