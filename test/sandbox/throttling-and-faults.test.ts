import { formatRetryAfter, GraphThrottler } from '../../src/adapters/sandbox/graph-throttling';
import { call, contoso, manualClock, startGraphFixture, strongPassword, type GraphFixture } from './sandbox-test-client';

// Sources (microsoftgraph/microsoft-graph-docs-contrib):
// - concepts/throttling-limits.md, "Identity and access service limits": application+tenant pair
//   S/M/L 3,500/5,000/8,000 resource units per 10 s, 3,000 writes per 2 min 30 s; base costs
//   (GET users 2, GET groups/{id}/members 3, other 1, writes 1); $select -1, $top < 20 -1, floor 1;
//   headers x-ms-resource-unit, x-ms-throttle-scope, x-ms-throttle-information.
// - concepts/throttling.md, "Sample response": the 429 body.
// - concepts/json-batching.md: requests in a batch are evaluated individually against the limits.

const clock = manualClock();
let fx: GraphFixture;

beforeAll(async () => {
  fx = await startGraphFixture({ clock });
});

afterAll(async () => {
  await fx.sandbox.close();
});

afterEach(() => {
  fx.sandbox.control.reset();
  clock.advance(60 * 60 * 1000);
});

async function batch(requests: unknown[]): Promise<{ id: string; status: number; headers: Record<string, string>; body?: Record<string, unknown> }[]> {
  const res = await fx.graph('/$batch', { body: { requests } });
  expect(res.status).toBe(200);
  return res.body.responses;
}

describe('resource unit costs', () => {
  it('reports the documented cost of each request in x-ms-resource-unit', async () => {
    const groupId = (await fx.graph('/groups?$filter=' + encodeURIComponent("displayName eq 'Sales'"))).body.value[0].id as string;
    const cases: [string, string][] = [
      ['/users', '2'],
      ['/users?$select=id', '1'],
      ['/users?$top=5', '1'],
      ['/users/admin@contoso.com', '1'],
      [`/groups/${groupId}/members`, '3'],
      [`/groups/${groupId}/members?$select=id`, '2'],
    ];
    for (const [path, cost] of cases) {
      const res = await fx.graph(path);
      expect([path, res.headers['x-ms-resource-unit']]).toEqual([path, cost]);
    }
  });
});

describe('throttling per application and tenant', () => {
  it('answers writes past 3,000 per 150 s with the documented 429, until the window passes', async () => {
    const patch = (i: number) => ({ id: String(i), method: 'PATCH', url: `/users/${contoso.adminUpn}`, headers: { 'Content-Type': 'application/json' }, body: { jobTitle: `t${i}` } });
    let ok = 0;
    for (let round = 0; round < 150; round += 1) {
      const responses = await batch(Array.from({ length: 20 }, (_, i) => patch(i)));
      ok += responses.filter((r) => r.status === 204).length;
    }
    expect(ok).toBe(3000);

    const res = await fx.graph(`/users/${contoso.adminUpn}`, { method: 'PATCH', body: { jobTitle: 'one too many' } });
    expect(res.status).toBe(429);
    expect(res.headers['retry-after']).toBe('150');
    expect(res.headers['x-ms-throttle-scope']).toBe(`Tenant_Application/Write/sandbox-client/${contoso.id}`);
    expect(res.headers['x-ms-throttle-information']).toBe('WriteLimitExceeded');
    expect(res.headers['x-ms-resource-unit']).toBe('1');
    expect(res.body).toEqual({
      error: {
        code: 'TooManyRequests',
        message: 'Please retry again later.',
        innerError: { code: '429', date: expect.any(String), message: 'Please retry after', 'request-id': expect.any(String), status: '429' },
      },
    });
    // Reads still pass: the write quota is separate from the resource unit quota.
    expect((await fx.graph('/users/admin@contoso.com')).status).toBe(200);
    clock.advance(150_000);
    expect((await fx.graph(`/users/${contoso.adminUpn}`, { method: 'PATCH', body: { jobTitle: 'after the window' } })).status).toBe(204);
  });

  it('throttles reads past 3,500 resource units per 10 s in a small tenant', async () => {
    const list = (i: number) => ({ id: String(i), method: 'GET', url: '/users' }); // 2 units each
    const statuses: number[] = [];
    for (let round = 0; round < 88; round += 1) statuses.push(...(await batch(Array.from({ length: 20 }, (_, i) => list(i)))).map((r) => r.status));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1750);
    const res = await fx.graph('/users');
    expect(res.status).toBe(429);
    expect(res.headers['x-ms-throttle-information']).toBe('ResourceUnitLimitExceeded');
    expect(res.headers['x-ms-throttle-scope']).toBe(`Tenant_Application/ReadWrite/sandbox-client/${contoso.id}`);
    expect(res.headers['retry-after']).toBe('10');
  });

  it('stays out of the way when turned off', async () => {
    await call(`${fx.sandbox.url}/_sandbox/faults`, { body: { throttling: false } });
    const statuses: number[] = [];
    for (let round = 0; round < 90; round += 1) statuses.push(...(await batch(Array.from({ length: 20 }, (_, i) => ({ id: String(i), method: 'GET', url: '/users' })))).map((r) => r.status));
    expect(statuses.every((s) => s === 200)).toBe(true);
  });
});

describe('time scale', () => {
  it('shrinks the windows but keeps the budgets', () => {
    const throttler = new GraphThrottler(1000);
    const t0 = 1_000_000;
    for (let i = 0; i < 3000; i += 1) expect(throttler.check('app', 'tenant', 10, 1, true, t0).allowed).toBe(true);
    const refused = throttler.check('app', 'tenant', 10, 1, true, t0);
    expect(refused).toMatchObject({ allowed: false, information: 'WriteLimitExceeded' });
    expect(formatRetryAfter(refused.retryAfterSec ?? 0, 1000)).toBe('0.15');
    expect(throttler.check('app', 'tenant', 10, 1, true, t0 + 150).allowed).toBe(true);
    // Budgets by tenant size: 600 users is an L tenant (8,000 units per window).
    expect(throttler.check('app', 'large', 600, 7_999, false, t0).allowed).toBe(true);
    expect(throttler.check('app', 'large', 600, 2, false, t0).allowed).toBe(false);
  });
});

describe('write budgets beyond one tenant', () => {
  it('holds an application to 35,000 writes per 5 minutes across tenants, and a tenant to 18,000 across applications', () => {
    const throttler = new GraphThrottler(1000);
    const t0 = 2_000_000;
    const allowed = (write: () => boolean, times: number): number => Array.from({ length: times }, write).filter(Boolean).length;
    // 12 tenants x 2,900 writes stay under each tenant's 3,000 and fill the app's 35,000 but 200.
    for (let tenant = 0; tenant < 12; tenant += 1) expect(allowed(() => throttler.check('app', `t${tenant}`, 10, 1, true, t0).allowed, 2_900)).toBe(2_900);
    expect(allowed(() => throttler.check('app', 't12', 10, 1, true, t0).allowed, 200)).toBe(200);
    const refused = throttler.check('app', 't12', 10, 1, true, t0);
    expect(refused).toMatchObject({ allowed: false, scope: 'Application', limit: 'Write', information: 'WriteLimitExceeded' });
    // Another application is not held by this one's budget; the window (300 ms at this scale) starts over.
    expect(throttler.check('other-app', 't12', 10, 1, true, t0).allowed).toBe(true);
    expect(throttler.check('app', 't12', 10, 1, true, t0 + 300).allowed).toBe(true);

    const tenantWide = new GraphThrottler(1000);
    for (let app = 0; app < 6; app += 1) expect(allowed(() => tenantWide.check(`app${app}`, 'busy', 10, 1, true, t0).allowed, 3_000)).toBe(3_000);
    expect(tenantWide.check('app6', 'busy', 10, 1, true, t0)).toMatchObject({ allowed: false, scope: 'Tenant' });
  });
});

describe('fault injection', () => {
  it('injects 503, 429 and connection resets at the configured rates', async () => {
    await call(`${fx.sandbox.url}/_sandbox/faults`, { body: { rates: { '503': 1 } } });
    const unavailable = await fx.graph('/users/admin@contoso.com');
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBeDefined();

    fx.sandbox.control.setFaults({ rates: { '503': 0, '429': 1 } });
    const throttled = await fx.graph('/users/admin@contoso.com');
    expect(throttled.status).toBe(429);
    expect(throttled.body.error.code).toBe('TooManyRequests');

    fx.sandbox.control.setFaults({ rates: { '429': 0, reset: 1 } });
    await expect(fx.graph('/users/admin@contoso.com')).rejects.toMatchObject({ code: 'ECONNRESET' });

    fx.sandbox.control.setFaults({ rates: { reset: 0 } });
    expect((await fx.graph('/users/admin@contoso.com')).status).toBe(200);
  });

  it('adds latency', async () => {
    fx.sandbox.control.setFaults({ latencyMs: 150 });
    const started = Date.now();
    await fx.graph('/users/admin@contoso.com');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('hides a new object from reads for the replication lag', async () => {
    fx.sandbox.control.setFaults({ replicationLagMs: 5_000 });
    const created = await fx.graph('/users', { body: { accountEnabled: true, displayName: 'Lagging', mailNickname: 'lagging', userPrincipalName: 'lagging@contoso.com', passwordProfile: { password: strongPassword } } });
    expect(created.status).toBe(201);
    expect((await fx.graph(`/users/${created.body.id}`)).status).toBe(404);
    expect((await fx.graph(`/users?$filter=${encodeURIComponent("userPrincipalName eq 'lagging@contoso.com'")}`)).body.value).toEqual([]);
    clock.advance(5_000);
    expect((await fx.graph(`/users/${created.body.id}`)).status).toBe(200);
  });
});
