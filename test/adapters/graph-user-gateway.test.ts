import { createGraphClientFactory } from '../../src/adapters/graph/graph-client-factory';
import { GraphUserGateway } from '../../src/adapters/graph/graph-user-gateway';
import { startSandbox, type SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import { sandboxHttpsAgent } from '../../src/adapters/sandbox/sandbox-trust';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import type { M365UserProperty } from '../../src/domain/provisioning/m365-user-gateway';
import { err } from '../../src/domain/result';

const contoso = sandboxTenants.contoso;
const select: M365UserProperty[] = ['id', 'userPrincipalName', 'givenName', 'surname', 'displayName', 'accountEnabled', 'jobTitle'];
const password = 'xWwvJ]6NMw+bWH-d';

describe('GraphUserGateway against the sandbox tenant', () => {
  let sandbox: SandboxHandle;
  let gateway: GraphUserGateway;

  beforeAll(async () => {
    sandbox = await startSandbox();
    const token = sandbox.control.issueToken(contoso.id, contoso.adminUpn).access_token;
    const factory = createGraphClientFactory({
      graphBaseUrl: sandbox.url,
      tokens: { getAccessToken: async () => err({ code: 'transient', message: 'unused' }) },
      httpsAgent: sandboxHttpsAgent(),
      retry: { maxRetries: 0, maxRetryAfterMs: 0, defaultDelayMs: 0 },
    });
    gateway = new GraphUserGateway(factory.withAccessToken(token), sandbox.url);
  });

  afterAll(async () => {
    await sandbox.close();
  });

  afterEach(() => {
    sandbox.control.setFaults({ rates: { '503': 0, '429': 0, reset: 0 } });
  });

  it('creates, finds by UPN with $select, reads, updates and detects the duplicate UPN as "exists"', async () => {
    const upn = 'gateway.one@contoso.com';
    expect(await gateway.findByUpn(upn, select)).toEqual({ ok: true, value: undefined });
    const created = await gateway.create({ attributes: { userPrincipalName: upn, mailNickname: 'gateway.one', displayName: 'Gateway One', givenName: 'Gateway', accountEnabled: true }, passwordProfile: { password, forceChangePasswordNextSignIn: false } });
    if (!created.ok) throw new Error(created.error.message);

    const found = await gateway.findByUpn(upn, select);
    expect(found).toEqual({ ok: true, value: expect.objectContaining({ id: created.value.id, givenName: 'Gateway', accountEnabled: true }) });
    // $select: a property not asked for is not returned.
    expect(found.ok && 'mail' in (found.value ?? {})).toBe(false);

    expect((await gateway.update(created.value.id, { attributes: { jobTitle: 'Tester', accountEnabled: false } })).ok).toBe(true);
    expect(await gateway.get(created.value.id, select)).toEqual({ ok: true, value: expect.objectContaining({ jobTitle: 'Tester', accountEnabled: false }) });

    const duplicate = await gateway.create({ attributes: { userPrincipalName: upn, mailNickname: 'gateway.one', displayName: 'Again', accountEnabled: true }, passwordProfile: { password, forceChangePasswordNextSignIn: false } });
    expect(duplicate).toEqual({ ok: false, error: expect.objectContaining({ kind: 'exists', code: 'Request_BadRequest', message: 'Another object with the same value for property userPrincipalName already exists.' }) });
  });

  it('escapes quotes in the UPN filter', async () => {
    const upn = "o'hara@contoso.com";
    const created = await gateway.create({ attributes: { userPrincipalName: upn, mailNickname: 'ohara', displayName: "Scarlett O'Hara", accountEnabled: true }, passwordProfile: { password, forceChangePasswordNextSignIn: false } });
    expect(created.ok).toBe(true);
    expect(await gateway.findByUpn(upn, select)).toEqual({ ok: true, value: expect.objectContaining({ userPrincipalName: upn }) });
  });

  it('sets and removes the manager reference; removing a missing one succeeds', async () => {
    const make = async (nick: string) => {
      const created = await gateway.create({ attributes: { userPrincipalName: `${nick}@contoso.com`, mailNickname: nick, displayName: nick, accountEnabled: true }, passwordProfile: { password, forceChangePasswordNextSignIn: false } });
      if (!created.ok) throw new Error(created.error.message);
      return created.value.id;
    };
    const boss = await make('gateway.boss');
    const report = await make('gateway.report');
    expect((await gateway.setManager(report, boss)).ok).toBe(true);
    expect((await gateway.setManager(report, null)).ok).toBe(true);
    expect((await gateway.setManager(report, null)).ok).toBe(true);
  });

  it('classifies a missing account, a 400 and a 429 from Graph', async () => {
    expect(await gateway.get('00000000-0000-0000-0000-000000000000', select)).toEqual({ ok: false, error: expect.objectContaining({ kind: 'not_found' }) });
    const invalid = await gateway.create({ attributes: { userPrincipalName: 'x@contoso.com', displayName: 'x', accountEnabled: true }, passwordProfile: { password, forceChangePasswordNextSignIn: false } });
    expect(invalid).toEqual({ ok: false, error: expect.objectContaining({ kind: 'permanent', code: 'Request_BadRequest' }) });
    expect(invalid.ok ? '' : invalid.error.message).not.toMatch(/^Graph 400/);

    sandbox.control.setFaults({ rates: { '429': 1 } });
    const throttled = await gateway.get('00000000-0000-0000-0000-000000000000', select);
    expect(throttled).toEqual({ ok: false, error: expect.objectContaining({ kind: 'transient', throttled: true, code: 'TooManyRequests' }) });
    expect(throttled.ok ? undefined : throttled.error.kind === 'transient' ? throttled.error.retryAfterMs : undefined).toBeGreaterThan(0);
  });
});
