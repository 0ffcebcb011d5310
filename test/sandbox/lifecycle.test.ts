import { call, contoso, manualClock, startGraphFixture, type GraphFixture } from './sandbox-test-client';

// Sources (Microsoft Graph v1.0 docs, microsoftgraph/microsoft-graph-docs-contrib):
// - api-reference/v1.0/api/user-revokesigninsessions.md (200 {"value": true}; User.RevokeSessions.All,
//   higher User.ReadWrite.All; Helpdesk Administrator may revoke for non-admins)

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
