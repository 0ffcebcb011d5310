import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, connectTenant, createUser, eventually, reconcileNow, SandboxClient, type Json } from './provisioning-support';

type Families = ReturnType<typeof parsePrometheusTextFormat>;

/** The samples of one family whose labels include `labels`. */
function samples(families: Families, name: string, labels: Record<string, string> = {}): Families[number]['metrics'] {
  const family = families.find((f) => f.name === name);
  return (family?.metrics ?? []).filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value));
}

function total(families: Families, name: string, labels: Record<string, string> = {}): number {
  return samples(families, name, labels).reduce((sum, sample) => sum + Number(sample.value), 0);
}

describe('GET /api/metrics (Prometheus text from the OpenTelemetry meters)', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let readerKey: string;
  let connection: Json;

  const scrape = async (): Promise<Families> => {
    const answer = await host.api('metrics', { headers: { 'x-api-key': readerKey } });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheusTextFormat(await answer.text());
  };

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    readerKey = (await (await host.api('keys', { method: 'POST', json: { name: 'scraper', role: 'reader' } })).json() as { key: string }).key;
    connection = await connectTenant(host, { domains: ['contoso.com'], settings: { exportAttributes: ['jobTitle'] } });
  });

  afterAll(async () => {
    await host.close();
  });

  it('refuses a request without a key', async () => {
    const answer = await host.api('metrics', { headers: { 'x-api-key': '' } });
    expect(answer.status).toBe(401);
  });

  it('counts provisioning, Graph requests and 429s per connection, failures by code, queue depth and age, and drift per reconcile run', async () => {
    const connectionId = connection.id as string;
    const bind = async (email: string): Promise<string> => {
      const user = await createUser(host, { email, firstName: 'Metered', lastName: 'Employee', jobTitle: 'Analyst' });
      expect((await host.api(`connections/${connectionId}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
      return user.id as string;
    };
    const before = await scrape();
    expect(total(before, 'm365bridge_users_total', { connection: connectionId })).toBe(0);

    const first = await bind('metered.one@contoso.com');
    await bindingIn(host, connectionId, first, 'provisioned');

    // Graph throttles every request for a moment: the worker waits, and the 429s are counted.
    await sandbox.setFaults({ rates: { '429': 1 } });
    const second = await bind('metered.two@contoso.com');
    await eventually(async () => (total(await scrape(), 'm365bridge_graph_throttled_total', { connection: connectionId }) > 0 ? true : undefined), 10_000, 'a 429 to be counted');
    await sandbox.setFaults({ rates: { '429': 0 } });
    await bindingIn(host, connectionId, second, 'provisioned', 15_000);

    // A change made in Microsoft 365 behind the directory's back is drift the next run finds.
    const account = await sandbox.user('metered.one@contoso.com');
    expect((await sandbox.graph(`/users/${account.id as string}`, { method: 'PATCH', body: { jobTitle: 'Changed in the portal' } })).status).toBe(204);
    const run = await reconcileNow(host, connectionId);
    expect(run.users).toMatchObject({ drifted: 1 });

    const families = await scrape();
    expect(total(families, 'm365bridge_users_total', { connection: connectionId, change: 'provisioned' })).toBe(2);
    expect(total(families, 'm365bridge_graph_requests_total', { connection: connectionId })).toBeGreaterThan(2);
    expect(total(families, 'm365bridge_graph_requests_total', { connection: connectionId, status: '429' })).toBe(total(families, 'm365bridge_graph_throttled_total', { connection: connectionId }));
    expect(total(families, 'm365bridge_provisioning_failures_total', { connection: connectionId })).toBeGreaterThan(0);
    expect(samples(families, 'm365bridge_provisioning_failures_total', { connection: connectionId }).every((sample) => (sample.labels?.['code'] ?? '') !== '')).toBe(true);

    expect(total(families, 'm365bridge_reconcile_runs_total', { connection: connectionId })).toBe(1);
    expect(total(families, 'm365bridge_reconcile_drifted_total', { connection: connectionId })).toBe(1);
    expect(total(families, 'm365bridge_reconcile_last_run_drifted', { connection: connectionId })).toBe(1);
    expect(total(families, 'm365bridge_reconcile_last_run_deleted', { connection: connectionId })).toBe(0);

    for (const queue of ['provisioning', 'reconcile', 'directory-commands']) {
      expect(samples(families, 'm365bridge_queue_depth', { queue })).toHaveLength(1);
      expect(samples(families, 'm365bridge_queue_oldest_message_age', { queue })).toHaveLength(1);
    }
    // The run nudged the drifted account: the gauge shows the queue until the worker has corrected it.
    await eventually(async () => (total(await scrape(), 'm365bridge_queue_depth', { queue: 'provisioning' }) === 0 ? true : undefined), 10_000, 'the provisioning queue to drain');
  }, 60_000);
});
