import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sandboxHttpsAgent } from '../../src/adapters/sandbox/sandbox-trust';
import { startTestHost, type TestHost } from '../support/test-host';
import { connectTenant, contoso, eventually, events, json, SandboxClient, type Json } from './provisioning-support';
import { freePort } from '../../src/app/host/free-port';

const seeded = 3_000;

async function everyPage(host: TestHost, first: string, field: 'items' | 'results'): Promise<Json[]> {
  const all: Json[] = [];
  let cursor: string | undefined;
  do {
    const page = await json(await host.api(`${first}${first.includes('?') ? '&' : '?'}limit=500${cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`}`));
    all.push(...(page[field] as Json[]));
    cursor = page.nextCursor as string | undefined;
  } while (cursor !== undefined);
  return all;
}

describe('an import job across a crash of the host', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-import-restart-'));
  let host: TestHost | undefined;

  afterAll(async () => {
    await host?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes after a restart mid-job, importing every user exactly once', async () => {
    // The sandbox keeps its port, so the connection's tokens (issued by that authority) stay valid.
    const env = { SANDBOX_PORT: String(await freePort()), LOG_LEVEL: 'warn' };
    host = await startTestHost({ dataDir, env });
    const sandbox = new SandboxClient(host.sandboxUrl as string);
    expect((await sandbox.control(`tenants/${contoso.id}/users:seed`, { method: 'POST', body: { count: seeded } })).status).toBe(200);
    const connection = await connectTenant(host, { domains: ['contoso.com'] });
    const connectionId = connection.id as string;

    const answer = await host.api(`connections/${connectionId}/imports`, { method: 'POST', json: { filter: { q: 'sandbox.user' } } });
    expect(answer.status).toBe(202);
    const jobId = (await json(answer)).jobId as string;

    // Kill the host mid-page: once a page has recorded results that no page count holds yet.
    const { store } = host.services;
    await eventually(async () => {
      const recorded = await store.count('jobs', { pk: jobId, where: [{ field: 'record', op: 'eq', value: 'result' }] });
      const job = await json(await (host as TestHost).api(`imports/${jobId}?limit=1`));
      return recorded > job.succeeded + 100 ? true : undefined;
    }, 30_000, 'a page to be half done');
    const killed = host;
    await killed.stop(0);
    expect(killed.logText()).toContain('stopped with handlers still running');
    // A new process starts with no kept-alive sockets to the old sandbox.
    sandboxHttpsAgent().destroy();
    host = await startTestHost({ dataDir, env });

    const job = await eventually(async () => {
      const current = await json(await (host as TestHost).api(`imports/${jobId}?limit=1`));
      return current.status === 'completed' || current.status === 'failed' ? current : undefined;
    }, 60_000, 'the job to finish after the restart');
    expect(job).toMatchObject({ status: 'completed', total: seeded, succeeded: seeded, failed: 0, skipped: 0 });

    const results = await everyPage(host, `imports/${jobId}`, 'results');
    expect(results).toHaveLength(seeded);
    expect(new Set(results.map((r) => r.m365UserId)).size).toBe(seeded);
    expect(results.filter((r) => r.outcome !== 'imported')).toEqual([]);

    // One directory user per account, each bound to its own account, and not one provisioning event.
    const users = await everyPage(host, 'users?q=sandbox.user', 'items');
    expect(users).toHaveLength(seeded);
    expect(new Set(users.map((u) => u.email)).size).toBe(seeded);
    const bindings = await everyPage(host, `connections/${connectionId}/users?state=provisioned`, 'items');
    const bySandboxUser = bindings.filter((b) => users.some((u) => u.id === b.userId));
    expect(bySandboxUser).toHaveLength(seeded);
    expect(new Set(bySandboxUser.map((b) => b.m365UserId)).size).toBe(seeded);
    expect(new Set(results.map((r) => r.userId))).toEqual(new Set(users.map((u) => u.id)));
    expect(await events(host, { connectionId })).toEqual([]);
  }, 120_000);
});
