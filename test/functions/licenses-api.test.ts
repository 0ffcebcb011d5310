import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { call } from '../sandbox/sandbox-test-client';
import { startTestHost, type TestHost } from '../support/test-host';
import { bindingIn, connectTenant, createUser, eventually, events, json, SandboxClient, type Json } from './provisioning-support';

const ems = 'efccb6f7-5641-4e0e-bd10-b4976e1bf68e';
const fabrikam = sandboxTenants.fabrikam;

/** Follows a consent URL as the Global Administrator (auto-consent) through to the callback. */
async function consent(url: string, adminUpn: string, dropScopes: readonly string[] = []): Promise<void> {
  const consentUrl = new URL(url);
  consentUrl.searchParams.set('login_hint', adminUpn);
  consentUrl.searchParams.set('sandbox_auto_consent', '1');
  // An app version from before a permission existed asked for less: the grant lacks it.
  const scopes = (consentUrl.searchParams.get('scope') ?? '').split(' ').filter((s) => !dropScopes.some((d) => s.toLowerCase().endsWith(d.toLowerCase())));
  consentUrl.searchParams.set('scope', scopes.join(' '));
  const authorized = await call(consentUrl.toString());
  const callback = await fetch(authorized.headers.location as string);
  expect(callback.status).toBe(200);
}

describe('licences over the admin API, against the sandbox tenant', () => {
  let host: TestHost;
  let sandbox: SandboxClient;
  let connection: Json;

  beforeAll(async () => {
    host = await startTestHost();
    sandbox = new SandboxClient(host.sandboxUrl as string);
    connection = await connectTenant(host, { domains: ['contoso.com'], settings: { usageLocation: 'GB' } });
  });

  afterAll(async () => {
    await host.close();
  });

  const connectionPath = () => `connections/${connection.id as string}`;
  const seats = async (skuId: string) => ((await json(await host.api(`${connectionPath()}/licenses`))).items as Json[]).find((s) => s.skuId === skuId);
  const licensesOf = async (m365UserId: string) => ((await sandbox.graph(`/users/${m365UserId}?$select=assignedLicenses`)).body.assignedLicenses as { skuId: string }[]).map((l) => l.skuId);

  async function groupCarrying(name: string, skuPartNumber: string): Promise<string> {
    const group = await json(await host.api('groups', { method: 'POST', json: { name } }));
    const bound = await host.api(`${connectionPath()}/groups/${group.id as string}`, { method: 'PUT', json: { licenses: [{ skuPartNumber }] } });
    expect(bound.status).toBe(202);
    expect(await json(bound)).toMatchObject({ licenses: [{ skuPartNumber }] });
    return group.id as string;
  }

  async function member(groupId: string, email: string): Promise<string> {
    const user = await createUser(host, { email, firstName: 'Licensed', lastName: 'Member' });
    expect((await host.api(`groups/${groupId}/members/${user.id as string}`, { method: 'PUT' })).status).toBe(204);
    return user.id as string;
  }

  it('a user bound through a group carrying a SKU gets it and loses it on leaving the group; the seat counts match Graph', async () => {
    const before = await seats(ems);
    expect(before).toMatchObject({ skuPartNumber: 'EMS', enabled: 5, free: before.enabled - before.consumed });
    const groupId = await groupCarrying('Field staff', 'EMS');
    const userId = await member(groupId, 'field.one@contoso.com');
    const binding = await bindingIn(host, connection.id as string, userId, 'provisioned');
    await eventually(async () => ((await licensesOf(binding.m365UserId as string)).includes(ems) ? true : undefined), 10_000, 'the EMS licence');
    const during = await seats(ems);
    expect(during.consumed).toBe(before.consumed + 1);
    const graphSku = ((await sandbox.graph('/subscribedSkus')).body.value as Json[]).find((s) => s.skuId === ems);
    expect({ enabled: during.enabled, consumed: during.consumed }).toEqual({ enabled: graphSku.prepaidUnits.enabled, consumed: graphSku.consumedUnits });
    expect(await events(host, { userId, type: 'user_license_provision' })).toEqual([expect.objectContaining({ addedLicenses: ['EMS'], removedLicenses: [] })]);

    expect((await host.api(`groups/${groupId}/members/${userId}`, { method: 'DELETE' })).status).toBe(204);
    await eventually(async () => ((await licensesOf(binding.m365UserId as string)).length === 0 ? true : undefined), 10_000, 'the licence to go');
    expect((await seats(ems)).consumed).toBe(before.consumed);
    expect(await events(host, { userId, type: 'user_license_provision' })).toEqual(expect.arrayContaining([expect.objectContaining({ addedLicenses: [], removedLicenses: ['EMS'] })]));
  });

  it('with no free seat the binding shows LICENSE_UNAVAILABLE naming the SKU, and recovers once a seat is freed', async () => {
    const groupId = await groupCarrying('Contractors', 'EMS');
    const first = await member(groupId, 'contractor.one@contoso.com');
    await bindingIn(host, connection.id as string, first, 'provisioned');
    const used = (await seats(ems)).consumed as number;
    await sandbox.control(`tenants/${sandboxTenants.contoso.id}/skus`, { method: 'POST', body: { skuPartNumber: 'EMS', enabled: used } });
    expect(await seats(ems)).toMatchObject({ free: 0 });

    const second = await member(groupId, 'contractor.two@contoso.com');
    const failed = await bindingIn(host, connection.id as string, second, 'error');
    expect(failed.lastError).toMatchObject({ code: 'LICENSE_UNAVAILABLE', message: expect.stringContaining('EMS') });

    await sandbox.control(`tenants/${sandboxTenants.contoso.id}/skus`, { method: 'POST', body: { skuPartNumber: 'EMS', enabled: used + 1 } });
    expect((await host.api(`${connectionPath()}/reconcile`, { method: 'POST' })).status).toBe(202);
    const recovered = await bindingIn(host, connection.id as string, second, 'provisioned');
    expect(await licensesOf(recovered.m365UserId as string)).toEqual([ems]);
    expect(await seats(ems)).toMatchObject({ free: 0 });
  });

  it('a connection consented before licence management shows consent_upgrade_required and everything else works; a new consent clears it', async () => {
    const created = await json(await host.api('connections', { method: 'POST', json: { name: 'Fabrikam', domains: ['fabrikam.com'], settings: { usageLocation: 'US', licenses: [{ skuPartNumber: 'ENTERPRISEPACK' }] } } }));
    await consent(created.consentUrl as string, fabrikam.adminUpn, ['Organization.Read.All']);
    const grants = await sandbox.control(`tenants/${fabrikam.id}/grants`);
    expect((grants.body as Json[]).some((g) => (g.scopes as string[]).some((s) => /Organization\.Read\.All/i.test(s)))).toBe(false);
    const path = `connections/${created.id as string}`;

    const user = await createUser(host, { email: 'early.adopter@fabrikam.com', firstName: 'Early', lastName: 'Adopter' });
    expect((await host.api(`${path}/users/${user.id as string}`, { method: 'PUT' })).status).toBe(202);
    const binding = await bindingIn(host, created.id as string, user.id as string, 'provisioned');
    expect(binding.note).toMatch(/consent/);
    const shown = await json(await host.api(path));
    expect(shown).toMatchObject({ status: 'active', consentUpgrade: { status: 'consent_upgrade_required', permissions: ['Organization.Read.All'], consentLink: `/api/${path}/consent` } });
    const listing = await host.api(`${path}/licenses`);
    expect(listing.status).toBe(409);
    expect((await json(listing)).error.message).toMatch(/consent again/);

    // Everything else keeps working: suspending still disables and signs out.
    expect((await host.api(`users/${user.id as string}/suspend`, { method: 'POST' })).status).toBe(200);
    await bindingIn(host, created.id as string, user.id as string, 'deprovisioned');
    expect(await events(host, { userId: user.id as string, type: 'user_deprovision' })).toEqual([expect.objectContaining({ sessionsRevoked: true })]);

    const renewed = await json(await host.api(shown.consentUpgrade.consentLink.replace(/^\/api\//, ''), { method: 'POST' }));
    await consent(renewed.consentUrl as string, fabrikam.adminUpn);
    const upgraded = await json(await host.api(path));
    expect(upgraded.consentUpgrade).toBeUndefined();
    expect((await host.api(`${path}/licenses`)).status).toBe(200);
    expect((await host.api(`users/${user.id as string}/activate`, { method: 'POST' })).status).toBe(200);
    const licensed = await bindingIn(host, created.id as string, user.id as string, 'provisioned');
    const token = (await sandbox.control(`tenants/${fabrikam.id}/tokens`, { method: 'POST', body: { upn: fabrikam.adminUpn } })).body.access_token as string;
    const licencesOfAccount = async () => (await call(`${sandbox.url}/v1.0/users/${licensed.m365UserId as string}?$select=assignedLicenses`, { headers: { authorization: `Bearer ${token}` } })).body.assignedLicenses as Json[];
    await eventually(async () => ((await licencesOfAccount()).length === 1 ? true : undefined), 10_000, 'the licence after the upgrade');
    expect((await json(await host.api(path))).consentUpgrade).toBeUndefined();
  });
});
