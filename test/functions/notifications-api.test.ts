import { InvocationContext } from '@azure/functions';
import { subscriptionsTimer } from '../../functions/timer/subscriptions';
import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, connectTenant, createUser, eventually, events, finishedJob, json, reconcileLeaseFree, SandboxClient, startImport, type Json } from './provisioning-support';

interface SubscriptionView {
  readonly id: string;
  readonly tenantId: string;
  readonly resource: string;
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string | null;
}

describe('change notifications, end to end against the sandbox tenant', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connection: Json;
  let seq = 0;

  const subscriptions = async (): Promise<SubscriptionView[]> => (await sandbox.control('subscriptions')).body.value as SubscriptionView[];
  const runTimer = () => subscriptionsTimer.handler(new InvocationContext({ functionName: 'subscriptions-timer', logHandler: () => undefined }));
  const subscribed = (count: number) => eventually(async () => ((await subscriptions()).length === count ? subscriptions() : undefined), 10_000, `${count} subscriptions`);

  const provisionedUser = async (fields: Record<string, unknown> = {}): Promise<{ user: Json; binding: Json }> => {
    seq += 1;
    const user = await createUser(host, { email: `notified${seq}@contoso.com`, firstName: 'Notified', lastName: `Number${seq}`, ...fields });
    expect((await host.api(`connections/${connection.id as string}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    return { user, binding: await bindingIn(host, connection.id as string, user.id as string, 'provisioned') };
  };

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connection = await connectTenant(host, { domains: ['contoso.com'], settings: { exportAttributes: ['jobTitle'] } });
  });

  afterAll(async () => {
    await host.close();
  });

  it('subscribes to users and groups (updated,deleted) once the timer runs, Graph validating the endpoint first', async () => {
    await runTimer();
    const live = await subscribed(2);
    expect(live.map((s) => s.resource).sort()).toEqual(['groups', 'users']);
    for (const s of live) {
      expect(s).toMatchObject({ changeType: 'updated,deleted', notificationUrl: `${host.url}/notifications`, lifecycleNotificationUrl: `${host.url}/notifications`, tenantId: connection.tenantId });
    }
    // Running again changes nothing: the subscriptions are fresh.
    await runTimer();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await subscriptions()).map((s) => s.id).sort()).toEqual(live.map((s) => s.id).sort());
  });

  it('corrects a change made behind the service\'s back within seconds, without a reconcile run', async () => {
    const { user, binding } = await provisionedUser({ jobTitle: 'Engineer' });
    const changed = await sandbox.graph(`/users/${binding.m365UserId as string}`, { method: 'PATCH', body: { jobTitle: 'Changed in the portal' } });
    expect(changed.status).toBe(204);

    await eventually(async () => ((await sandbox.user(user.email as string)).jobTitle === 'Engineer' ? true : undefined), 10_000, 'the jobTitle to be corrected');
    const updates = await eventually(async () => {
      const found = await events(host, { userId: user.id as string, type: 'user_update_provision' });
      return found.length > 0 ? found : undefined;
    });
    expect(updates).toEqual([expect.objectContaining({ changedAttributes: ['jobTitle'], m365UserId: binding.m365UserId })]);
    expect((await json(await host.api(`connections/${connection.id as string}/reconcile`))).lastRun).toBeUndefined();
  });

  it('echoes the validation token as text/plain, and ignores items whose subscription or clientState it does not know', async () => {
    const token = 'Validation: Testing client application reachability for subscription Request-Id: 1';
    const echoed = await fetch(`${host.url}/notifications?validationToken=${encodeURIComponent(token)}`, { method: 'POST', headers: { 'content-type': 'text/plain' } });
    expect(echoed.status).toBe(200);
    expect(echoed.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await echoed.text()).toBe(token);

    // A bound account no write of the service's made: imported, so no notification of its own is on
    // its way, and any Graph request about it after the forged delivery would be the delivery's doing.
    const account = await sandbox.user('casey.archer@contoso.com');
    const job = await finishedJob(host, await startImport(host, connection.id as string, { m365UserIds: [account.id] }));
    expect(job).toMatchObject({ status: 'completed', succeeded: 1 });
    const user = { id: (job.results as Json[])[0].userId as string };
    const binding = await bindingIn(host, connection.id as string, user.id, 'provisioned');
    expect(binding.m365UserId).toBe(account.id);
    const [usersSubscription] = (await subscriptions()).filter((s) => s.resource === 'users');
    const forged = { value: [{ subscriptionId: usersSubscription?.id, clientState: 'not-the-secret', changeType: 'updated', resource: `Users/${binding.m365UserId as string}`, resourceData: { id: binding.m365UserId }, tenantId: connection.tenantId }] };
    const before = await sandbox.lastRequestSeq();
    const loggedBefore = host.logText().length;
    const answer = await fetch(`${host.url}/notifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) });
    expect(answer.status).toBe(202);
    // The delivery is answered once handled: it was rejected, nothing nudged.
    const reports = host.logText().slice(loggedBefore).split('\n').filter((line) => line.includes('"change notifications rejected"')).map((line) => JSON.parse(line) as Json);
    expect(reports).toEqual([expect.objectContaining({ nudged: 0, ignored: 0, rejected: 1, lifecycle: 0 })]);
    // Anything a nudge would have read shows up in this pause.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await sandbox.requestsSince(before)).filter((r) => r.path.includes(binding.m365UserId as string))).toEqual([]);
    expect((await bindingIn(host, connection.id as string, user.id, 'provisioned')).lastError).toBeUndefined();
  });

  it('recreates a subscription Graph removed and runs delta for the gap; runs delta on missed', async () => {
    const before = await subscriptions();
    const users = before.find((s) => s.resource === 'users') as SubscriptionView;
    expect((await sandbox.control(`subscriptions/${users.id}/lifecycle`, { method: 'POST', body: { event: 'subscriptionRemoved' } })).status).toBe(204);
    const after = await eventually(async () => {
      const now = await subscriptions();
      const replaced = now.find((s) => s.resource === 'users');
      return replaced !== undefined && replaced.id !== users.id ? now : undefined;
    }, 10_000, 'the users subscription to be recreated');
    expect(after).toHaveLength(2);
    const lastRun = await eventually(async () => (await json(await host.api(`connections/${connection.id as string}/reconcile`))).lastRun, 10_000, 'a delta run');
    expect(lastRun.outcome).toBe('completed');

    // The run keeps its lease a moment after it finishes; once it lets go, a missed event starts another.
    await reconcileLeaseFree(host, connection.id as string);
    const groups = after.find((s) => s.resource === 'groups') as SubscriptionView;
    expect((await sandbox.control(`subscriptions/${groups.id}/lifecycle`, { method: 'POST', body: { event: 'missed' } })).status).toBe(204);
    await eventually(async () => {
      const status = await json(await host.api(`connections/${connection.id as string}/reconcile`));
      return status.lastRun?.runId !== lastRun.runId ? true : undefined;
    }, 10_000, 'a second delta run');
  });

  it('removes the subscriptions when a connection turns notifications off', async () => {
    const patched = await host.api(`connections/${connection.id as string}`, { method: 'PATCH', json: { settings: { changeNotifications: false } } });
    expect(patched.status).toBe(200);
    await runTimer();
    await subscribed(0);
  });
});
