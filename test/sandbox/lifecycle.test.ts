import { call, contoso, manualClock, startGraphFixture, type GraphFixture } from './sandbox-test-client';

// Sources (Microsoft Graph v1.0 docs, microsoftgraph/microsoft-graph-docs-contrib):
// - api-reference/v1.0/api/user-revokesigninsessions.md (200 {"value": true}; User.RevokeSessions.All,
//   higher User.ReadWrite.All; Helpdesk Administrator may revoke for non-admins)
// - api-reference/v1.0/api/directory-deleteditems-restore.md (200 with the directoryObject),
//   directory-deleteditems-get.md, directory-deleteditems-list.md (the microsoft.graph.user cast);
//   Entra keeps deleted users 30 days (entra/fundamentals/users-restore)
// - api-reference/v1.0/api/subscribedsku-list.md (payload; LicenseAssignment.Read.All),
//   user-assignlicense.md (200 with the user; LicenseAssignment.ReadWrite.All, higher User.ReadWrite.All)
// - assignLicense refusals as admins meet them: "License assignment cannot be done for user with
//   invalid usage location.", "License <id> does not correspond to a valid company License.",
//   "Subscription with SKU <id> does not have any available licenses.", "License assignment failed
//   because service plans <a>,<b> are mutually exclusive."

const clock = manualClock();
let fx: GraphFixture;

beforeAll(async () => {
  fx = await startGraphFixture({ clock });
});

afterAll(async () => {
  await fx.sandbox.close();
});

async function userId(upn: string): Promise<string> {
  const res = await fx.graph(`/users/${encodeURIComponent(upn)}?$select=id`);
  return res.body.id as string;
}

describe('POST /users/{id}/revokeSignInSessions', () => {
  it('answers {"value": true} and moves signInSessionsValidFromDateTime to now', async () => {
    const id = await userId("o'brien@contoso.com");
    const res = await fx.graph(`/users/${id}/revokeSignInSessions`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ '@odata.context': `${fx.sandbox.url}/v1.0/$metadata#Edm.Boolean`, value: true });
    const read = await fx.graph(`/users/${id}?$select=signInSessionsValidFromDateTime`);
    expect(read.body.signInSessionsValidFromDateTime).toBe(clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z'));
  });

  it('is refused with 403 without a permission that allows it, and to a user without an admin role', async () => {
    const id = await userId("o'brien@contoso.com");
    const readOnly = fx.sandbox.control.issueToken(contoso.id, contoso.adminUpn, ['User.Read.All']).access_token;
    const denied = await call(`${fx.sandbox.url}/v1.0/users/${id}/revokeSignInSessions`, { method: 'POST', headers: { authorization: `Bearer ${readOnly}` } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('Authorization_RequestDenied');
    const plain = await call(`${fx.sandbox.url}/v1.0/users/${id}/revokeSignInSessions`, { method: 'POST', headers: { authorization: `Bearer ${fx.tokenFor('former.employee@contoso.com')}` } });
    expect(plain.status).toBe(403);
    const narrow = fx.sandbox.control.issueToken(contoso.id, contoso.helpdeskUpn, ['User.RevokeSessions.All']).access_token;
    const helpdesk = await call(`${fx.sandbox.url}/v1.0/users/${id}/revokeSignInSessions`, { method: 'POST', headers: { authorization: `Bearer ${narrow}` } });
    expect(helpdesk.status).toBe(200);
  });
});

describe('directory/deletedItems', () => {
  async function newUser(upn: string): Promise<string> {
    const res = await fx.graph('/users', { body: { accountEnabled: false, displayName: upn, mailNickname: upn.split('@')[0], userPrincipalName: upn, passwordProfile: { password: 'xWwvJ]6NMw+bWH-d' } } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  it('keeps a deleted user for 30 days and restores it with its object id', async () => {
    const id = await newUser('leaver@contoso.com');
    expect((await fx.graph(`/users/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fx.graph(`/users/${id}`)).status).toBe(404);
    const deleted = await fx.graph(`/directory/deletedItems/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ '@odata.type': '#microsoft.graph.user', id, userPrincipalName: 'leaver@contoso.com', deletedDateTime: clock.now().toISOString().replace(/\.\d{3}Z$/, 'Z') });
    const listed = await fx.graph('/directory/deletedItems/microsoft.graph.user');
    expect(listed.body.value.map((u: { id: string }) => u.id)).toContain(id);

    clock.advance(29 * 24 * 3600_000);
    const restored = await fx.graph(`/directory/deletedItems/${id}/restore`, { method: 'POST' });
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({ '@odata.type': '#microsoft.graph.user', id, userPrincipalName: 'leaver@contoso.com' });
    const read = await fx.graph(`/users/${id}?$select=id,accountEnabled`);
    expect(read.body).toMatchObject({ id, accountEnabled: false });
    expect((await fx.graph(`/directory/deletedItems/${id}`)).status).toBe(404);
  });

  it('is gone for good after 30 days: reading or restoring answers 404', async () => {
    const id = await newUser('gone@contoso.com');
    await fx.graph(`/users/${id}`, { method: 'DELETE' });
    clock.advance(30 * 24 * 3600_000 + 1000);
    expect((await fx.graph(`/directory/deletedItems/${id}`)).status).toBe(404);
    const restore = await fx.graph(`/directory/deletedItems/${id}/restore`, { method: 'POST' });
    expect(restore.status).toBe(404);
    expect(restore.body.error.code).toBe('Request_ResourceNotFound');
  });

  it('refuses to restore a user whose userPrincipalName another user took meanwhile', async () => {
    const id = await newUser('reused@contoso.com');
    await fx.graph(`/users/${id}`, { method: 'DELETE' });
    await newUser('reused@contoso.com');
    const restore = await fx.graph(`/directory/deletedItems/${id}/restore`, { method: 'POST' });
    expect(restore.status).toBe(400);
    expect(restore.body.error).toMatchObject({ code: 'Request_BadRequest', details: [{ target: 'userPrincipalName', code: 'ObjectConflict' }] });
  });

  it('needs a permission that writes users to restore', async () => {
    const id = await newUser('readonly@contoso.com');
    await fx.graph(`/users/${id}`, { method: 'DELETE' });
    const readOnly = fx.sandbox.control.issueToken(contoso.id, contoso.adminUpn, ['User.Read.All']).access_token;
    expect((await call(`${fx.sandbox.url}/v1.0/directory/deletedItems/${id}`, { headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(200);
    expect((await call(`${fx.sandbox.url}/v1.0/directory/deletedItems/${id}/restore`, { method: 'POST', headers: { authorization: `Bearer ${readOnly}` } })).status).toBe(403);
  });
});

describe('licences', () => {
  const e3 = '6fd2c87f-b296-42f0-b197-1e91e994b900';
  const exchangeOnly = '4b9405b0-7788-4568-add1-99614e613b69';
  const ems = 'efccb6f7-5641-4e0e-bd10-b4976e1bf68e';

  async function licensable(upn: string, usageLocation: string | null = 'GB'): Promise<string> {
    const res = await fx.graph('/users', { body: { accountEnabled: true, displayName: upn, mailNickname: upn.split('@')[0], userPrincipalName: upn, usageLocation, passwordProfile: { password: 'xWwvJ]6NMw+bWH-d' } } });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  const assign = (id: string, addLicenses: { skuId: string; disabledPlans?: string[] }[], removeLicenses: string[] = []) =>
    fx.graph(`/users/${id}/assignLicense`, { method: 'POST', body: { addLicenses: addLicenses.map((l) => ({ disabledPlans: [], ...l })), removeLicenses } });

  const sku = async (skuId: string) => ((await fx.graph('/subscribedSkus')).body.value as { skuId: string; consumedUnits: number; prepaidUnits: { enabled: number } }[]).find((s) => s.skuId === skuId);

  it('lists the subscribed SKUs with their seats in Graph\'s shape', async () => {
    const res = await fx.graph('/subscribedSkus');
    expect(res.status).toBe(200);
    expect(res.body['@odata.context']).toBe(`${fx.sandbox.url}/v1.0/$metadata#subscribedSkus`);
    expect(res.body.value).toEqual(expect.arrayContaining([expect.objectContaining({ skuId: e3, skuPartNumber: 'ENTERPRISEPACK', appliesTo: 'User', capabilityStatus: 'Enabled', consumedUnits: expect.any(Number), prepaidUnits: { enabled: 25, suspended: 0, warning: 0, lockedOut: 0 }, id: `${contoso.id}_${e3}` })]));
  });

  it('assigns and removes licences, and the seats follow', async () => {
    const id = await licensable('licensed@contoso.com');
    const before = (await sku(e3))?.consumedUnits as number;
    const res = await assign(id, [{ skuId: e3 }]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id, userPrincipalName: 'licensed@contoso.com' });
    expect((await fx.graph(`/users/${id}?$select=assignedLicenses`)).body.assignedLicenses).toEqual([{ disabledPlans: [], skuId: e3 }]);
    expect((await sku(e3))?.consumedUnits).toBe(before + 1);
    expect((await assign(id, [], [e3])).status).toBe(200);
    expect((await sku(e3))?.consumedUnits).toBe(before);
  });

  it("answers Graph's 400s: no usage location, unknown SKU, no free seat, mutually exclusive plans", async () => {
    const nowhere = await licensable('nowhere@contoso.com', null);
    const noLocation = await assign(nowhere, [{ skuId: e3 }]);
    expect(noLocation.status).toBe(400);
    expect(noLocation.body.error).toMatchObject({ code: 'Request_BadRequest', message: 'License assignment cannot be done for user with invalid usage location.' });

    const id = await licensable('refused@contoso.com');
    const unknown = await assign(id, [{ skuId: '11111111-2222-3333-4444-555555555555' }]);
    expect(unknown.body.error.message).toBe('License 11111111-2222-3333-4444-555555555555 does not correspond to a valid company License.');

    fx.sandbox.control.setSeats(contoso.id, 'EMS', 0);
    const full = await assign(id, [{ skuId: ems }]);
    expect(full.status).toBe(400);
    expect(full.body.error.message).toBe(`Subscription with SKU ${ems} does not have any available licenses.`);
    fx.sandbox.control.setSeats(contoso.id, 'EMS', 5);
    expect((await assign(id, [{ skuId: ems }])).status).toBe(200);

    expect((await assign(id, [{ skuId: e3 }])).status).toBe(200);
    const conflict = await assign(id, [{ skuId: exchangeOnly }]);
    expect(conflict.status).toBe(400);
    expect(conflict.body.error.message).toBe('License assignment failed because service plans efb87545-963c-4e0d-99df-69c6916d9eb0,9aaf7827-d63c-4b61-89c3-182f06f82e5c are mutually exclusive.');
    // With Exchange turned off in E3 the two fit together.
    expect((await assign(id, [{ skuId: e3, disabledPlans: ['efb87545-963c-4e0d-99df-69c6916d9eb0'] }, { skuId: exchangeOnly }])).status).toBe(200);
  });

  it('needs LicenseAssignment.Read.All (or more) to read the SKUs', async () => {
    const old = fx.sandbox.control.issueToken(contoso.id, contoso.adminUpn, ['User.ReadWrite.All', 'Group.ReadWrite.All']).access_token;
    const denied = await call(`${fx.sandbox.url}/v1.0/subscribedSkus`, { headers: { authorization: `Bearer ${old}` } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('Authorization_RequestDenied');
    const least = fx.sandbox.control.issueToken(contoso.id, contoso.adminUpn, ['LicenseAssignment.Read.All']).access_token;
    expect((await call(`${fx.sandbox.url}/v1.0/subscribedSkus`, { headers: { authorization: `Bearer ${least}` } })).status).toBe(200);
  });
});
