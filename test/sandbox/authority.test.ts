import { createHash, randomBytes } from 'node:crypto';
import { ConfidentialClientApplication, InteractionRequiredAuthError, type AccountInfo } from '@azure/msal-node';
import { createSandboxNetworkClient } from '../../src/adapters/sandbox/sandbox-trust';
import { startSandbox, type SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import { sandboxSignInAccounts, sandboxSignInPassword } from '../../src/adapters/sandbox/seed';
import { call, contoso, manualClock } from './sandbox-test-client';

// Sources:
// - MicrosoftDocs/entra-docs docs/identity-platform/v2-oauth2-auth-code-flow.md (authorize, redeem, refresh)
// - MicrosoftDocs/entra-docs docs/identity-platform/reference-error-codes.md (error body shape: error,
//   error_description "AADSTSnnnn: ...", error_codes, timestamp, trace_id, correlation_id, error_uri;
//   AADSTS501481 PKCE mismatch, AADSTS54005 code redeemed, AADSTS50173 grant revoked,
//   AADSTS7000215 invalid client secret, AADSTS65001 consent missing)
// - RFC 7636 (PKCE S256: BASE64URL(SHA256(code_verifier)))

const redirectUri = 'http://localhost:7071/api/oauth/callback';
let sandbox: SandboxHandle;

beforeAll(async () => {
  sandbox = await startSandbox();
});

afterAll(async () => {
  await sandbox.close();
});

afterEach(() => {
  sandbox.control.reset();
});

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function authorizeUrl(params: Record<string, string>, tenant = 'organizations'): string {
  const query = new URLSearchParams({ client_id: 'sandbox-client', response_type: 'code', redirect_uri: redirectUri, scope: 'openid profile offline_access User.ReadWrite.All', ...params });
  return `${sandbox.url}/${tenant}/oauth2/v2.0/authorize?${query.toString()}`;
}

async function codeFor(upn: string, challenge: string, state = 'st-1'): Promise<string> {
  const res = await call(authorizeUrl({ login_hint: upn, sandbox_auto_consent: '1', code_challenge: challenge, code_challenge_method: 'S256', state }));
  expect(res.status).toBe(302);
  const location = new URL(String(res.headers.location));
  expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
  expect(location.searchParams.get('state')).toBe(state);
  return location.searchParams.get('code') ?? '';
}

function redeem(form: Record<string, string>, tenant = 'organizations') {
  return call(`${sandbox.url}/${tenant}/oauth2/v2.0/token`, { form: { client_id: 'sandbox-client', client_secret: 'sandbox-client-secret', redirect_uri: redirectUri, scope: 'User.ReadWrite.All offline_access', ...form } });
}

function expectStsError(body: Record<string, unknown>, error: string, code: number): void {
  expect(body).toEqual({
    error,
    error_description: expect.stringMatching(new RegExp(`^AADSTS${code}: .+\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: .+\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`, 's')),
    error_codes: [code],
    timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
    trace_id: expect.any(String),
    correlation_id: expect.any(String),
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    ...(body.suberror !== undefined ? { suberror: body.suberror } : {}),
  });
}

describe('authorization code flow with PKCE', () => {
  it('serves OpenID metadata for organizations and for a tenant', async () => {
    const orgs = await call(`${sandbox.url}/organizations/v2.0/.well-known/openid-configuration`);
    expect(orgs.body).toMatchObject({ issuer: `${sandbox.url}/{tenantid}/v2.0`, authorization_endpoint: `${sandbox.url}/organizations/oauth2/v2.0/authorize`, token_endpoint: `${sandbox.url}/organizations/oauth2/v2.0/token` });
    const byDomain = await call(`${sandbox.url}/contoso.com/v2.0/.well-known/openid-configuration`);
    expect(byDomain.body.issuer).toBe(`${sandbox.url}/${contoso.id}/v2.0`);
  });

  it('exchanges a code only with the right verifier, once', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(contoso.adminUpn, challenge);
    const wrong = await redeem({ grant_type: 'authorization_code', code, code_verifier: pkce().verifier });
    expect(wrong.status).toBe(400);
    expectStsError(wrong.body, 'invalid_grant', 501481);

    const right = await redeem({ grant_type: 'authorization_code', code, code_verifier: verifier });
    expect(right.status).toBe(200);
    expect(right.body).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number), access_token: expect.any(String), refresh_token: expect.any(String), id_token: expect.any(String) });
    const idClaims = JSON.parse(Buffer.from(String(right.body.id_token).split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(idClaims).toMatchObject({ tid: contoso.id, preferred_username: contoso.adminUpn, aud: 'sandbox-client', oid: expect.any(String) });

    const again = await redeem({ grant_type: 'authorization_code', code, code_verifier: verifier });
    expectStsError(again.body, 'invalid_grant', 54005);
  });

  it('requires the redirect URI of the authorize request', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(contoso.adminUpn, challenge);
    const res = await redeem({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: 'http://localhost:7071/elsewhere' });
    expectStsError(res.body, 'invalid_grant', 500112);
  });

  it('refuses a wrong client secret with invalid_client AADSTS7000215', async () => {
    const res = await redeem({ grant_type: 'refresh_token', refresh_token: 'x', client_secret: 'guess' });
    expect(res.status).toBe(401);
    expectStsError(res.body, 'invalid_client', 7000215);
  });

  it('shows a consent page without auto-consent, and cancel returns access_denied', async () => {
    const page = await call(authorizeUrl({ state: 's' }));
    expect(page.status).toBe(200);
    expect(page.text).toContain('Permissions requested');
    const form = Object.fromEntries(new URLSearchParams(authorizeUrl({ state: 's' }).split('?')[1]));
    const cancelled = await call(`${sandbox.url}/organizations/oauth2/v2.0/authorize`, { form: { ...form, sandbox_decision: 'cancel' } });
    const location = new URL(String(cancelled.headers.location));
    expect(location.searchParams.get('error')).toBe('access_denied');
    const accepted = await call(`${sandbox.url}/organizations/oauth2/v2.0/authorize`, { form: { ...form, sandbox_decision: 'accept', sandbox_upn: 'admin@fabrikam.com', sandbox_password: sandboxSignInPassword } });
    expect(new URL(String(accepted.headers.location)).searchParams.get('code')).toBeTruthy();
  });

  it('lists the accounts it accepts on its sign-in page, says they are not secrets, and refuses a wrong password', async () => {
    const page = await call(authorizeUrl({ state: 's' }));
    for (const account of sandboxSignInAccounts) expect(page.text).toContain(`<td>${account.upn}</td><td><code>${account.password}</code>`);
    expect(page.text).toMatch(/not real and these are not secrets/);
    const form = Object.fromEntries(new URLSearchParams(authorizeUrl({ state: 's' }).split('?')[1]));
    for (const password of [undefined, 'guess']) {
      const refused = await call(`${sandbox.url}/organizations/oauth2/v2.0/authorize`, { form: { ...form, sandbox_decision: 'accept', sandbox_upn: contoso.adminUpn, ...(password === undefined ? {} : { sandbox_password: password }) } });
      expect(refused.status).toBe(400);
      expect(refused.text).toContain('AADSTS50126');
    }
  });

  it('refuses an unknown user on the sign-in page', async () => {
    const res = await call(authorizeUrl({ login_hint: 'ghost@contoso.com', sandbox_auto_consent: '1' }));
    expect(res.status).toBe(400);
    expect(res.text).toContain('AADSTS50034');
  });

  it('answers refresh after revocation with invalid_grant AADSTS50173', async () => {
    const { verifier, challenge } = pkce();
    const tokens = await redeem({ grant_type: 'authorization_code', code: await codeFor(contoso.adminUpn, challenge), code_verifier: verifier });
    const refreshed = await redeem({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(tokens.body.refresh_token);
    expect(sandbox.control.grants(contoso.id)[0]?.refreshTokens.map((rt) => rt.token)).toEqual([tokens.body.refresh_token, refreshed.body.refresh_token]);

    const revoked = await call(`${sandbox.url}/_sandbox/tenants/${contoso.id}/revoke`, { body: {} });
    expect(revoked.body).toEqual({ revoked: 1 });
    const res = await redeem({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
    expect(res.status).toBe(400);
    expectStsError(res.body, 'invalid_grant', 50173);
  });

  it('answers refresh after consent revocation with AADSTS65001', async () => {
    const { verifier, challenge } = pkce();
    const tokens = await redeem({ grant_type: 'authorization_code', code: await codeFor(contoso.adminUpn, challenge), code_verifier: verifier });
    sandbox.control.revoke(contoso.id, 'consent');
    const res = await redeem({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expectStsError(res.body, 'invalid_grant', 65001);
    expect(res.body.suberror).toBe('consent_required');
  });
});

describe('expiry', () => {
  it('expires codes after ten minutes (AADSTS70008) and refresh tokens unused for 90 days (AADSTS700082)', async () => {
    const clock = manualClock();
    const timed = await startSandbox({ clock });
    try {
      const login = async (): Promise<{ code: string; verifier: string }> => {
        const { verifier, challenge } = pkce();
        const res = await call(`${timed.url}/organizations/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: 'sandbox-client', response_type: 'code', redirect_uri: redirectUri, scope: 'offline_access User.Read', login_hint: contoso.adminUpn, sandbox_auto_consent: '1', code_challenge: challenge, code_challenge_method: 'S256' }).toString()}`);
        return { code: new URL(String(res.headers.location)).searchParams.get('code') ?? '', verifier };
      };
      const token = (form: Record<string, string>) => call(`${timed.url}/organizations/oauth2/v2.0/token`, { form: { client_id: 'sandbox-client', client_secret: 'sandbox-client-secret', redirect_uri: redirectUri, ...form } });
      const stale = await login();
      clock.advance(10 * 60 * 1000 + 1);
      expectStsError((await token({ grant_type: 'authorization_code', code: stale.code, code_verifier: stale.verifier })).body, 'invalid_grant', 70008);

      const fresh = await login();
      const tokens = await token({ grant_type: 'authorization_code', code: fresh.code, code_verifier: fresh.verifier });
      clock.advance(91 * 24 * 3600 * 1000);
      const expired = await token({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
      expectStsError(expired.body, 'invalid_grant', 700082);
    } finally {
      await timed.close();
    }
  });
});

describe('msal-node ConfidentialClientApplication against the sandbox', () => {
  function msalApp(): ConfidentialClientApplication {
    return new ConfidentialClientApplication({
      auth: { clientId: 'sandbox-client', clientSecret: 'sandbox-client-secret', authority: `${sandbox.url}/organizations`, knownAuthorities: [new URL(sandbox.url).host] },
      system: { networkClient: createSandboxNetworkClient() },
    });
  }

  async function signIn(app: ConfidentialClientApplication, upn: string): Promise<{ code: string; verifier: string }> {
    const { verifier, challenge } = pkce();
    const url = await app.getAuthCodeUrl({ scopes: ['User.ReadWrite.All', 'Domain.Read.All'], redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', loginHint: upn, state: 'xyz', extraQueryParameters: { sandbox_auto_consent: '1' } });
    const res = await call(url);
    expect(res.status).toBe(302);
    return { code: new URL(String(res.headers.location)).searchParams.get('code') ?? '', verifier };
  }

  it('acquires tokens by code, refreshes silently after expiry, and reports revocation as invalid_grant', async () => {
    const app = msalApp();
    const { code, verifier } = await signIn(app, contoso.adminUpn);
    const first = await app.acquireTokenByCode({ code, codeVerifier: verifier, redirectUri, scopes: ['User.ReadWrite.All', 'Domain.Read.All'] });
    expect(first.account?.tenantId).toBe(contoso.id);
    expect(first.account?.username).toBe(contoso.adminUpn);
    expect(first.idTokenClaims).toMatchObject({ tid: contoso.id, preferred_username: contoso.adminUpn });
    const me = await call(`${sandbox.url}/v1.0/me`, { headers: { authorization: `Bearer ${first.accessToken}` } });
    expect(me.body.userPrincipalName).toBe(contoso.adminUpn);

    // msal treats tokens within five minutes of expiry as expired, so a short lifetime forces a refresh.
    sandbox.control.configure({ accessTokenLifetimeSec: 60 });
    const short = await app.acquireTokenSilent({ account: first.account as AccountInfo, scopes: ['User.ReadWrite.All'], forceRefresh: true });
    const renewed = await app.acquireTokenSilent({ account: short.account as AccountInfo, scopes: ['User.ReadWrite.All'] });
    expect(renewed.accessToken).not.toBe(short.accessToken);
    expect(sandbox.control.grants(contoso.id)[0]?.refreshTokens.length).toBeGreaterThanOrEqual(3);
    const domains = await call(`${sandbox.url}/v1.0/domains`, { headers: { authorization: `Bearer ${renewed.accessToken}` } });
    expect(domains.status).toBe(200);

    sandbox.control.revoke(contoso.id);
    const failure = await app.acquireTokenSilent({ account: renewed.account as AccountInfo, scopes: ['User.ReadWrite.All'], forceRefresh: true }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(InteractionRequiredAuthError);
    expect((failure as InteractionRequiredAuthError).errorCode).toBe('invalid_grant');
    expect((failure as InteractionRequiredAuthError).errorMessage).toContain('AADSTS50173');
  });

  it('works with authorityMetadata and cloudDiscoveryMetadata instead of knownAuthorities', async () => {
    const metadata = await call(`${sandbox.url}/organizations/v2.0/.well-known/openid-configuration`);
    const discovery = await call(`${sandbox.url}/common/discovery/instance?api-version=1.1&authorization_endpoint=${encodeURIComponent(`${sandbox.url}/organizations/oauth2/v2.0/authorize`)}`);
    const app = new ConfidentialClientApplication({
      auth: { clientId: 'sandbox-client', clientSecret: 'sandbox-client-secret', authority: `${sandbox.url}/organizations`, authorityMetadata: metadata.text, cloudDiscoveryMetadata: discovery.text },
      system: { networkClient: createSandboxNetworkClient() },
    });
    const { code, verifier } = await signIn(app, 'admin@fabrikam.com');
    const result = await app.acquireTokenByCode({ code, codeVerifier: verifier, redirectUri, scopes: ['User.ReadWrite.All'] });
    expect(result.account?.tenantId).toBe('2b7e4c9d-5a3f-4b1e-8c6d-0e9f8a7b6c5d');
  });

  it('fails acquireTokenByCode with a wrong verifier', async () => {
    const app = msalApp();
    const { code } = await signIn(app, contoso.adminUpn);
    await expect(app.acquireTokenByCode({ code, codeVerifier: pkce().verifier, redirectUri, scopes: ['User.ReadWrite.All'] })).rejects.toMatchObject({ errorCode: 'invalid_grant', errorMessage: expect.stringContaining('AADSTS501481') });
  });
});
