import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { contoso, startGraphFixture, type GraphFixture } from './sandbox-test-client';
import { eventually } from '../support/eventually';
import { ManualClock } from '../support/manual-clock';

interface Received {
  readonly query: URLSearchParams;
  readonly contentType: string | undefined;
  readonly body: string;
}

/**
 * A notification endpoint on loopback that records what it got: it echoes validation tokens, and
 * answers a delivery 202, or 503 while `answer.failures` (counted down per delivery) is above 0.
 */
async function startReceiver(): Promise<{ url: string; received: Received[]; answer: { failures: number }; close(): Promise<void> }> {
  const received: Received[] = [];
  const answer = { failures: 0 };
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
      const failed = answer.failures > 0;
      if (failed) answer.failures -= 1;
      res.writeHead(failed ? 503 : 202);
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
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(new Date());
    // Time scale 1000: retries after 1 ms, 2 ms...; reauthorizationRequired 3.6 s before expiry.
    fixture = await startGraphFixture({ timeScale: 1000, clock });
    receiver = await startReceiver();
  });

  afterEach(async () => {
    await fixture.sandbox.close();
    await receiver.close();
  });

  const subscribe = (resource: string, extra: Record<string, unknown> = {}) =>
    fixture.graph('/subscriptions', {
      method: 'POST',
      body: { changeType: 'updated,deleted', notificationUrl: receiver.url, lifecycleNotificationUrl: receiver.url, resource, expirationDateTime: new Date(clock.ms + 24 * 3600_000).toISOString(), clientState: 'secret-state', ...extra },
    });

  it('validates both URLs, then delivers a batch of changes in the documented shape', async () => {
    const created = await subscribe('/users');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ resource: '/users', changeType: 'updated,deleted', clientState: 'secret-state', notificationUrl: receiver.url, lifecycleNotificationUrl: receiver.url, applicationId: 'sandbox-client' });
    expect(created.body.expirationDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$/);
    expect(receiver.received.filter((r) => r.query.has('validationToken'))).toHaveLength(2);

    const user = (await fixture.graph(`/users/${encodeURIComponent(contoso.helpdeskUpn)}?$select=id`)).body.id as string;
    // Two changes in one $batch are made in the same instant, so both fall in the sandbox's 50 ms
    // batching window however slow the machine is (two separate requests may arrive further apart).
    const patched = await fixture.graph('/$batch', {
      method: 'POST',
      body: { requests: ['One', 'Two'].map((jobTitle, i) => ({ id: String(i + 1), method: 'PATCH', url: `/users/${user}`, headers: { 'Content-Type': 'application/json' }, body: { jobTitle } })) },
    });
    expect(patched.status).toBe(200);
    expect((patched.body.responses as { status: number }[]).map((response) => response.status)).toEqual([204, 204]);
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
    const tooLong = await subscribe('/groups', { expirationDateTime: new Date(clock.ms + 41_761 * 60_000 + 120_000).toISOString() });
    expect(tooLong.status).toBe(400);
    expect((await subscribe('/me/messages')).status).toBe(400);
    expect((await fixture.graph('/subscriptions')).body.value).toEqual([]);
  });

  it('retries a delivery the endpoint failed, and renews and deletes on request', async () => {
    const created = await subscribe('/groups');
    // The endpoint fails the first two deliveries, counted by the endpoint itself (not by when the
    // test looks): the third attempt delivers, well inside the sandbox's eight.
    receiver.answer.failures = 2;
    const group = (await fixture.graph('/groups?$select=id&$top=1')).body.value[0].id as string;
    expect((await fixture.graph(`/groups/${group}`, { method: 'PATCH', body: { description: 'changed' } })).status).toBe(204);
    await eventually(() => (receiver.answer.failures === 0 && notifications(receiver.received).length >= 3 ? true : undefined));
    expect(fixture.sandbox.control.listSubscriptions()).toHaveLength(1);
    expect(notifications(receiver.received)).toHaveLength(3);
    expect(notifications(receiver.received).every((n) => n.resource === `Groups/${group}`)).toBe(true);

    const renewed = await fixture.graph(`/subscriptions/${created.body.id as string}`, { method: 'PATCH', body: { expirationDateTime: new Date(clock.ms + 48 * 3600_000).toISOString() } });
    expect(renewed.status).toBe(200);
    expect(Date.parse(renewed.body.expirationDateTime)).toBeGreaterThan(Date.parse(created.body.expirationDateTime));
    expect((await fixture.graph(`/subscriptions/${created.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fixture.graph(`/subscriptions/${created.body.id as string}`)).status).toBe(404);
  });

  it('asks for reauthorization before expiry and reports the removal at expiry', async () => {
    // The sandbox's clock is moved by hand, so a slow request cannot use up the time before expiry.
    const created = await subscribe('/users', { expirationDateTime: new Date(clock.ms + 10 * 60_000).toISOString() });
    expect(created.status).toBe(201);
    const lifecycle = () => notifications(receiver.received).filter((n) => n.lifecycleEvent !== undefined);
    expect(lifecycle()).toEqual([]);
    // 2 s before expiry: inside the lead (1 hour, 3.6 s at time scale 1000).
    clock.advance(10 * 60_000 - 2_000);
    await eventually(() => (lifecycle().length === 1 ? true : undefined), 10_000, 'reauthorizationRequired');
    clock.advance(2_000);
    const events = await eventually(() => (lifecycle().length === 2 ? lifecycle() : undefined), 10_000, 'subscriptionRemoved');
    expect(events.map((e) => e.lifecycleEvent)).toEqual(['reauthorizationRequired', 'subscriptionRemoved']);
    expect(events[0]).toEqual({ lifecycleEvent: 'reauthorizationRequired', subscriptionId: created.body.id, subscriptionExpirationDateTime: created.body.expirationDateTime, clientState: 'secret-state', tenantId: contoso.id });
    expect((await fixture.graph('/subscriptions')).body.value).toEqual([]);
  });
});
