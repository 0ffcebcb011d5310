import { contoso, startGraphFixture, strongPassword, type GraphFixture } from './sandbox-test-client';

// Sources (Microsoft Graph v1.0 docs, microsoftgraph/microsoft-graph-docs-contrib):
// - api-reference/v1.0/api/user-post-users.md (required properties, 201 payload)
// - concepts/errors.md (error envelope with innerError)
// - missing property message: msgraph-sdk-powershell#230 maintainer comment
//   "Property mailNickname value is required but is empty or missing."
// - duplicate UPN payload: ../shared/DESIGN.md "Error payloads to copy exactly"
// - OData string literal quoting: OData 4.01 URL conventions 5.1.1.6.1 ('' escapes a quote)
// - https://learn.microsoft.com/graph/paging (@odata.nextLink)

let fx: GraphFixture;

beforeAll(async () => {
  fx = await startGraphFixture();
});

afterAll(async () => {
  await fx.sandbox.close();
});

// The request body of "Example 1: Create a user" in user-post-users.md.
const adele = {
  accountEnabled: true,
  displayName: 'Adele Vance',
  mailNickname: 'AdeleV',
  userPrincipalName: 'AdeleV@contoso.onmicrosoft.com',
  passwordProfile: { forceChangePasswordNextSignIn: true, password: strongPassword },
};

describe('POST /users', () => {
  it('creates the documented example user and answers 201 with the default property set', async () => {
    const res = await fx.graph('/users', { body: adele });
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toContain('application/json');
    expect(res.body).toEqual({
      '@odata.context': `${fx.sandbox.url}/v1.0/$metadata#users/$entity`,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      businessPhones: [],
      displayName: 'Adele Vance',
      givenName: null,
      jobTitle: null,
      mail: null,
      mobilePhone: null,
      officeLocation: null,
      preferredLanguage: null,
      surname: null,
      userPrincipalName: 'AdeleV@contoso.onmicrosoft.com',
    });
    expect(res.body).not.toHaveProperty('passwordProfile');
  });

  it('refuses a user without mailNickname with Graph 400 Request_BadRequest', async () => {
    const { mailNickname: _omitted, ...body } = { ...adele, userPrincipalName: 'nonick@contoso.com' };
    const res = await fx.graph('/users', { body });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'Request_BadRequest',
        message: 'Property mailNickname value is required but is empty or missing.',
        innerError: { date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/), 'request-id': expect.any(String), 'client-request-id': expect.any(String) },
      },
    });
  });

  it('answers a duplicate userPrincipalName with the ObjectConflict payload', async () => {
    const res = await fx.graph('/users', { body: { ...adele, userPrincipalName: 'admin@contoso.com', mailNickname: 'admin2' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'Request_BadRequest',
      message: 'Another object with the same value for property userPrincipalName already exists.',
      details: [{ target: 'userPrincipalName', code: 'ObjectConflict' }],
    });
    expect(res.body.error.innerError['request-id']).toEqual(expect.any(String));
  });

  it('refuses a password that does not meet complexity requirements', async () => {
    const res = await fx.graph('/users', { body: { ...adele, userPrincipalName: 'weak@contoso.com', mailNickname: 'weak', passwordProfile: { password: 'password' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe('The specified password does not comply with password complexity requirements. Please provide a different password.');
  });

  it('refuses a UPN whose domain is not verified in the tenant', async () => {
    for (const upn of ['someone@contoso.org', 'someone@fabrikam.com']) {
      const res = await fx.graph('/users', { body: { ...adele, userPrincipalName: upn, mailNickname: 'someone' } });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({
        code: 'Request_BadRequest',
        message: 'The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.',
        details: [{ target: 'userPrincipalName', code: 'InvalidValue' }],
      });
    }
  });

  it('refuses a property the user type does not declare', async () => {
    const res = await fx.graph('/users', { body: { ...adele, userPrincipalName: 'x@contoso.com', favouriteColour: 'blue' } });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe("Property 'favouriteColour' does not exist as a declared property or extension property.");
  });
});

describe('GET /users', () => {
  it("finds o'brien with the OData-escaped quote in $filter", async () => {
    const filter = encodeURIComponent("userPrincipalName eq 'o''brien@contoso.com'");
    const res = await fx.graph(`/users?$filter=${filter}`);
    expect(res.status).toBe(200);
    expect(res.body.value).toHaveLength(1);
    expect(res.body.value[0].userPrincipalName).toBe("o'brien@contoso.com");
  });

  it('refuses an unescaped quote as a syntax error', async () => {
    const res = await fx.graph(`/users?$filter=${encodeURIComponent("userPrincipalName eq 'o'brien@contoso.com'")}`);
    expect(res.status).toBe(400);
  });

  it('filters on mail and accountEnabled', async () => {
    const byMail = await fx.graph(`/users?$filter=${encodeURIComponent("mail eq 'HELPDESK@contoso.com'")}`);
    expect(byMail.body.value.map((u: { userPrincipalName: string }) => u.userPrincipalName)).toEqual(['helpdesk@contoso.com']);
    const disabled = await fx.graph(`/users?$filter=accountEnabled eq false&$select=userPrincipalName,accountEnabled`);
    expect(disabled.body.value).toEqual([{ userPrincipalName: 'former.employee@contoso.com', accountEnabled: false }]);
  });

  it('refuses $filter on a property that does not support it, naming it as Graph does', async () => {
    const res = await fx.graph(`/users?$filter=${encodeURIComponent("passwordPolicies eq 'x'")}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'Request_UnsupportedQuery', message: "Unsupported or invalid query filter clause specified for property 'passwordPolicies' of resource 'User'." });
  });

  it('pages with $top=5 by following @odata.nextLink to the end', async () => {
    const seen: string[] = [];
    let next: string | undefined = `${fx.sandbox.url}/v1.0/users?$top=5&$select=id,userPrincipalName`;
    let pages = 0;
    while (next) {
      const res = await fx.graph(next.slice(`${fx.sandbox.url}/v1.0`.length));
      expect(res.status).toBe(200);
      expect(res.body.value.length).toBeLessThanOrEqual(5);
      seen.push(...res.body.value.map((u: { id: string }) => u.id));
      next = res.body['@odata.nextLink'];
      pages += 1;
    }
    const all = await fx.graph('/users?$top=999&$select=id');
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all.body.value.map((u: { id: string }) => u.id));
    expect(pages).toBe(Math.ceil(seen.length / 5));
  });

  it('gets a user by id or by userPrincipalName, with $select', async () => {
    const byUpn = await fx.graph(`/users/${encodeURIComponent("o'brien@contoso.com")}?$select=displayName,mailNickname,accountEnabled`);
    expect(byUpn.status).toBe(200);
    expect(byUpn.body).toEqual({ '@odata.context': `${fx.sandbox.url}/v1.0/$metadata#users(displayName,mailNickname,accountEnabled)/$entity`, displayName: "Pat O'Brien", mailNickname: 'obrien', accountEnabled: true });
    const id = (await fx.graph('/users/helpdesk@contoso.com')).body.id as string;
    const byId = await fx.graph(`/users/${id}`);
    expect(byId.body.userPrincipalName).toBe('helpdesk@contoso.com');
  });

  it('answers an unknown user with Request_ResourceNotFound', async () => {
    const res = await fx.graph('/users/nobody@contoso.com');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'Request_ResourceNotFound', message: "Resource 'nobody@contoso.com' does not exist or one of its queried reference-property objects are not present." });
  });

  it('refuses an unknown $select property the way OData does', async () => {
    const res = await fx.graph('/users?$select=shoeSize');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toBe("Could not find a property named 'shoeSize' on type 'microsoft.graph.user'.");
  });
});

describe('PATCH and DELETE /users/{id}', () => {
  it('updates properties and accountEnabled with 204', async () => {
    const created = await fx.graph('/users', { body: { ...adele, userPrincipalName: 'patch.me@contoso.com', mailNickname: 'patchme' } });
    const id = created.body.id as string;
    const res = await fx.graph(`/users/${id}`, { method: 'PATCH', body: { accountEnabled: false, jobTitle: 'Buyer', passwordProfile: { password: 'N3w-Passw0rd!', forceChangePasswordNextSignIn: false } } });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const after = await fx.graph(`/users/${id}?$select=accountEnabled,jobTitle`);
    expect(after.body).toMatchObject({ accountEnabled: false, jobTitle: 'Buyer' });
  });

  it('refuses passwordProfile for a user in a federated domain', async () => {
    const northwind = fx.tokenFor('admin@northwindshop.com', '9d4a6b8c-1e2f-4a3b-b5c6-d7e8f9a0b1c2');
    const res = await fx.graph('/users/casey.baker@northwindshop.com', { method: 'PATCH', headers: { authorization: `Bearer ${northwind}` }, body: { passwordProfile: { password: 'N3w-Passw0rd!' } } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('Request_BadRequest');
  });

  it('deletes with 204, then the user is gone', async () => {
    const created = await fx.graph('/users', { body: { ...adele, userPrincipalName: 'delete.me@contoso.com', mailNickname: 'deleteme' } });
    expect((await fx.graph(`/users/${created.body.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fx.graph(`/users/${created.body.id}`)).status).toBe(404);
    expect((await fx.graph(`/users/${created.body.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses writes by a non-admin with Authorization_RequestDenied', async () => {
    const res = await fx.graph('/users', { headers: { authorization: `Bearer ${fx.tokenFor(contoso.helpdeskUpn)}` }, body: { ...adele, userPrincipalName: 'nope@contoso.com', mailNickname: 'nope' } });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'Authorization_RequestDenied', message: 'Insufficient privileges to complete the operation.' });
  });
});

describe('manager, me, organization, domains', () => {
  it('sets and reads a manager through manager/$ref', async () => {
    const ref = { '@odata.id': `https://graph.microsoft.com/v1.0/users/${(await fx.graph('/users/helpdesk@contoso.com')).body.id}` };
    expect((await fx.graph(`/users/${encodeURIComponent("o'brien@contoso.com")}/manager/$ref`, { method: 'PUT', body: ref })).status).toBe(204);
    const manager = await fx.graph(`/users/${encodeURIComponent("o'brien@contoso.com")}/manager`);
    expect(manager.body).toMatchObject({ '@odata.type': '#microsoft.graph.user', userPrincipalName: 'helpdesk@contoso.com' });
  });

  it('lists the directory roles of /me, as the Global Administrator check needs', async () => {
    const admin = await fx.graph('/me/transitiveMemberOf/microsoft.graph.directoryRole');
    expect(admin.body.value).toEqual([expect.objectContaining({ '@odata.type': '#microsoft.graph.directoryRole', displayName: 'Global Administrator', roleTemplateId: '62e90394-69f5-4237-9190-012177145e10' })]);
    const helpdesk = await fx.graph('/me/transitiveMemberOf/microsoft.graph.directoryRole', { headers: { authorization: `Bearer ${fx.tokenFor(contoso.helpdeskUpn)}` } });
    expect(helpdesk.body.value.map((r: { roleTemplateId: string }) => r.roleTemplateId)).not.toContain('62e90394-69f5-4237-9190-012177145e10');
  });

  it('serves organization and domains, with the GoDaddy federation of northwind', async () => {
    const org = await fx.graph('/organization');
    expect(org.body.value[0]).toMatchObject({ id: contoso.id, displayName: 'Contoso' });
    const domains = await fx.graph('/domains');
    expect(domains.body.value.find((d: { id: string }) => d.id === 'contoso.com')).toMatchObject({ authenticationType: 'Managed', isVerified: true, isDefault: true });
    const northwind = { authorization: `Bearer ${fx.tokenFor('admin@northwindshop.com', '9d4a6b8c-1e2f-4a3b-b5c6-d7e8f9a0b1c2')}` };
    const nd = await fx.graph('/domains', { headers: northwind });
    expect(nd.body.value).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'northwindshop.com', authenticationType: 'Federated' }), expect.objectContaining({ id: 'NETORGFT1234567.onmicrosoft.com', isInitial: true })]));
    const fed = await fx.graph('/domains/northwindshop.com/federationConfiguration', { headers: northwind });
    expect(fed.body.value[0]).toMatchObject({ '@odata.type': '#microsoft.graph.internalDomainFederation', passiveSignInUri: expect.stringContaining('secureserver.net') });
  });
});
