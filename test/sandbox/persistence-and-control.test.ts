import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSandbox } from '../../src/adapters/sandbox/sandbox-server';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { call, contoso, strongPassword } from './sandbox-test-client';

// The control API is the sandbox's own (../shared/DESIGN.md, "The sandbox tenant"); Graph payloads
// follow api-reference/v1.0/api/user-post-users.md and concepts/delta-query-overview.md.

let dataDir: string;

beforeEach(() => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-test-'));
});

afterEach(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('control API', () => {
  it('lists the seeded tenants with their fixed ids and domains', async () => {
    const sandbox = await startSandbox();
    try {
      const res = await call(`${sandbox.url}/_sandbox/tenants`);
      expect(res.body.map((t: { id: string }) => t.id).sort()).toEqual([sandboxTenants.contoso.id, sandboxTenants.fabrikam.id, sandboxTenants.northwind.id].sort());
      const northwind = res.body.find((t: { id: string }) => t.id === sandboxTenants.northwind.id);
      expect(northwind.domains).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: 'northwindshop.com', authenticationType: 'Federated' }),
          expect.objectContaining({ id: 'NETORGFT1234567.onmicrosoft.com', isInitial: true }),
        ]),
      );
      const contosoSummary = res.body.find((t: { id: string }) => t.id === contoso.id);
      expect(contosoSummary.userCount).toBeGreaterThanOrEqual(30);
    } finally {
      await sandbox.close();
    }
  });

  it('issues tokens for a upn and records Graph requests with writes and costs', async () => {
    const sandbox = await startSandbox();
    try {
      const token = await call(`${sandbox.url}/_sandbox/tenants/${contoso.id}/tokens`, { body: { upn: contoso.adminUpn } });
      expect(token.status).toBe(200);
      const auth = { authorization: `Bearer ${token.body.access_token}` };
      const before = (await call(`${sandbox.url}/_sandbox/requests`)).body.lastSeq as number;
      await call(`${sandbox.url}/v1.0/users`, { headers: auth, body: { accountEnabled: true, displayName: 'Logged', mailNickname: 'logged', userPrincipalName: 'logged@contoso.com', passwordProfile: { password: strongPassword } } });
      await call(`${sandbox.url}/v1.0/users/logged@contoso.com?$select=id`, { headers: auth });
      const log = await call(`${sandbox.url}/_sandbox/requests?since=${before}`);
      expect(log.body.value).toEqual([
        expect.objectContaining({ method: 'POST', path: '/v1.0/users', status: 201, write: true, resourceUnits: 1, tenantId: contoso.id, appId: 'sandbox-client', batched: false }),
        expect.objectContaining({ method: 'GET', path: '/v1.0/users/logged@contoso.com?%24select=id', status: 200, write: false, resourceUnits: 1 }),
      ]);
      const unknown = await call(`${sandbox.url}/_sandbox/tenants/${contoso.id}/tokens`, { body: { upn: 'ghost@contoso.com' } });
      expect(unknown.status).toBe(404);
    } finally {
      await sandbox.close();
    }
  });

  it('refuses requests without a valid token with InvalidAuthenticationToken', async () => {
    const sandbox = await startSandbox();
    try {
      const none = await call(`${sandbox.url}/v1.0/me`);
      expect(none.status).toBe(401);
      expect(none.body.error.code).toBe('InvalidAuthenticationToken');
      const forged = await call(`${sandbox.url}/v1.0/me`, { headers: { authorization: 'Bearer eyJ.eyJ.sig' } });
      expect(forged.status).toBe(401);
    } finally {
      await sandbox.close();
    }
  });
});

describe('persistence under the data directory', () => {
  it('keeps users, memberships and delta state across a restart', async () => {
    const first = await startSandbox({ dataDir });
    const auth = { authorization: `Bearer ${first.control.issueToken(contoso.id, contoso.adminUpn).access_token}` };
    const created = await call(`${first.url}/v1.0/users`, { headers: auth, body: { accountEnabled: true, displayName: 'Kept', mailNickname: 'kept', userPrincipalName: 'kept@contoso.com', passwordProfile: { password: strongPassword } } });
    const group = (await call(`${first.url}/v1.0/groups?$filter=${encodeURIComponent("displayName eq 'Sales'")}`, { headers: auth })).body.value[0].id as string;
    await call(`${first.url}/v1.0/groups/${group}/members/$ref`, { headers: auth, body: { '@odata.id': `https://graph.microsoft.com/v1.0/directoryObjects/${created.body.id}` } });
    const latest = (await call(`${first.url}/v1.0/groups/delta?$deltatoken=latest`, { headers: auth })).body['@odata.deltaLink'] as string;
    first.control.seedUsers('fabrikam', 1000);
    await first.close();

    const second = await startSandbox({ dataDir });
    try {
      const auth2 = { authorization: `Bearer ${second.control.issueToken(contoso.id, contoso.adminUpn).access_token}` };
      const kept = await call(`${second.url}/v1.0/users/kept@contoso.com`, { headers: auth2 });
      expect(kept.body.id).toBe(created.body.id);
      const members = await call(`${second.url}/v1.0/groups/${group}/members?$select=id`, { headers: auth2 });
      expect(members.body.value.map((m: { id: string }) => m.id)).toContain(created.body.id);
      expect(second.control.tenants().find((t) => t.name === 'fabrikam')?.userCount).toBe(1004);
      // A deltaLink from before the restart still covers what changed after it.
      await call(`${second.url}/v1.0/groups/${group}/members/${created.body.id}/$ref`, { method: 'DELETE', headers: auth2 });
      const changes = await call(`${second.url}${new URL(latest).pathname}${new URL(latest).search}`, { headers: auth2 });
      expect(changes.body.value).toEqual([expect.objectContaining({ id: group, 'members@delta': [expect.objectContaining({ id: created.body.id, '@removed': { reason: 'deleted' } })] })]);
    } finally {
      await second.close();
    }
  });

  it('resets to the seeded tenants', async () => {
    const sandbox = await startSandbox({ dataDir });
    try {
      sandbox.control.seedUsers(contoso.id, 10);
      const seeded = sandbox.control.tenants().find((t) => t.id === contoso.id)?.userCount ?? 0;
      expect((await call(`${sandbox.url}/_sandbox/reset`, { method: 'POST' })).status).toBe(204);
      expect(sandbox.control.tenants().find((t) => t.id === contoso.id)?.userCount).toBe(seeded - 10);
    } finally {
      await sandbox.close();
    }
  });
});
