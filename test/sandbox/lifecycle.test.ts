import { call, contoso, manualClock, startGraphFixture, type GraphFixture } from './sandbox-test-client';

// Sources (Microsoft Graph v1.0 docs, microsoftgraph/microsoft-graph-docs-contrib):
// - api-reference/v1.0/api/user-revokesigninsessions.md (200 {"value": true}; User.RevokeSessions.All,
//   higher User.ReadWrite.All; Helpdesk Administrator may revoke for non-admins)
// - api-reference/v1.0/api/directory-deleteditems-restore.md (200 with the directoryObject),
//   directory-deleteditems-get.md, directory-deleteditems-list.md (the microsoft.graph.user cast);
//   Entra keeps deleted users 30 days (entra/fundamentals/users-restore)

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
