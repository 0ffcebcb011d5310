import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { INetworkModule } from '@azure/msal-node';
import { managedIdentityAssertion, tokenExchangeScope } from '../../src/adapters/msal/managed-identity-assertion';
import { MsalIdentityPlatform } from '../../src/adapters/msal/msal-identity-platform';
import { tokenCacheSecretName } from '../../src/adapters/msal/secret-store-cache-plugin';
import { startSandbox, type SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import { createSandboxNetworkClient } from '../../src/adapters/sandbox/sandbox-trust';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import type { ConsentGrant } from '../../src/domain/connections/identity-platform';
import { call } from '../sandbox/sandbox-test-client';
import { MemorySecrets, RecordingLogger } from '../domain/connections/connections-harness';
import { ManualClock } from '../support/manual-clock';

const contoso = sandboxTenants.contoso;
const redirectUri = 'http://localhost:7071/api/oauth/callback';

describe('msal-node identity platform against the sandbox authority', () => {
  let sandbox: SandboxHandle;
  let secrets: MemorySecrets;
  let logger: RecordingLogger;
  let clock: ManualClock;

  beforeAll(async () => {
    sandbox = await startSandbox();
  });
  afterAll(() => sandbox.close());
  beforeEach(() => {
    sandbox.control.reset();
    clock = new ManualClock(Date.now());
    secrets = new MemorySecrets(clock);
    logger = new RecordingLogger();
  });

  function platform(authorityUrl = sandbox.url): MsalIdentityPlatform {
    return new MsalIdentityPlatform({ clientId: 'sandbox-client', credential: { clientSecret: 'sandbox-client-secret' }, authorityUrl, redirectUri, secrets, logger, clock, networkClient: createSandboxNetworkClient() });
  }

  /** Runs the authorization code + PKCE flow as `upn` and redeems the code. */
  async function signIn(identity: MsalIdentityPlatform, upn: string, verifierOverride?: string) {
    const pkce = await identity.createPkce();
    const url = await identity.authorizationUrl({ state: 'opaque-state', codeChallenge: pkce.challenge });
    const parsed = new URL(url);
    expect(parsed.pathname).toBe('/organizations/oauth2/v2.0/authorize');
    expect(parsed.searchParams.get('code_challenge_method')).toBe('S256');
    expect(parsed.searchParams.get('redirect_uri')).toBe(redirectUri);
    expect(parsed.searchParams.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['offline_access', 'User.ReadWrite.All', 'Group.ReadWrite.All', 'Domain.Read.All', 'RoleManagement.Read.Directory', 'User-PasswordProfile.ReadWrite.All']));
    const answer = await call(`${url}&login_hint=${encodeURIComponent(upn)}&sandbox_auto_consent=1`);
    const back = new URL(String(answer.headers.location));
    expect(back.searchParams.get('state')).toBe('opaque-state');
    return identity.redeemCode({ code: back.searchParams.get('code') ?? '', codeVerifier: verifierOverride ?? pkce.verifier });
  }

  async function consented(identity: MsalIdentityPlatform, connectionId = 'c1'): Promise<ConsentGrant> {
    const redeemed = await signIn(identity, contoso.adminUpn);
    if (!redeemed.ok) throw new Error(redeemed.error.message);
    await redeemed.value.persist(connectionId);
    return redeemed.value;
  }

  function refreshTokens(): string[] {
    return sandbox.control.grants(contoso.id).flatMap((g) => g.refreshTokens.map((t) => t.token));
  }

  it('redeems a code into a grant that stores nothing until it is persisted, then only in the secret store', async () => {
    const identity = platform();
    const redeemed = await signIn(identity, contoso.adminUpn);
    if (!redeemed.ok) throw new Error(redeemed.error.message);
    expect(redeemed.value).toMatchObject({ tenantId: contoso.id, upn: contoso.adminUpn, homeAccountId: expect.stringContaining(contoso.id) });
    expect(secrets.values.size).toBe(0);

    await redeemed.value.persist('c1');
    const [refreshToken] = refreshTokens();
    expect(refreshToken).toBeDefined();
    expect([...secrets.values.keys()]).toEqual([tokenCacheSecretName('c1')]);
    expect(secrets.values.get(tokenCacheSecretName('c1'))?.value).toContain(refreshToken);
    expect(JSON.stringify(logger.lines)).not.toContain(refreshToken);
  });

  it('serves cached access tokens silently and refreshes (rotating the stored refresh token) when forced', async () => {
    const identity = platform();
    const grant = await consented(identity);
    const account = { connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId };

    const first = await identity.acquireToken(account);
    if (!first.ok) throw new Error(first.error.message);
    const me = await call(`${sandbox.url}/v1.0/me?$select=userPrincipalName`, { headers: { authorization: `Bearer ${first.value}` } });
    expect(me.body.userPrincipalName).toBe(contoso.adminUpn);
    expect(await identity.acquireToken(account)).toEqual(first);
    expect(refreshTokens()).toHaveLength(1);

    expect((await identity.acquireToken(account, { forceRefresh: true })).ok).toBe(true);
    const rotated = refreshTokens();
    expect(rotated).toHaveLength(2);
    expect(secrets.values.get(tokenCacheSecretName('c1'))?.value).toContain(rotated[1]);
  });

  it('tells onRefresh of each token from the authority (consent, refresh) and each failure, not of tokens from a cache', async () => {
    const outcomes: unknown[] = [];
    const identity = new MsalIdentityPlatform({ clientId: 'sandbox-client', credential: { clientSecret: 'sandbox-client-secret' }, authorityUrl: sandbox.url, redirectUri, secrets, logger, clock, networkClient: createSandboxNetworkClient(), onRefresh: (connectionId, outcome) => outcomes.push({ connectionId, ...outcome }) });
    const grant = await consented(identity);
    const account = { connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId };
    expect(outcomes).toEqual([{ connectionId: 'c1', ok: true }]);
    expect((await identity.acquireToken(account)).ok).toBe(true);
    expect((await identity.acquireToken(account)).ok).toBe(true);
    expect(outcomes).toHaveLength(1);
    expect((await identity.acquireToken(account, { forceRefresh: true })).ok).toBe(true);
    expect(outcomes).toEqual([{ connectionId: 'c1', ok: true }, { connectionId: 'c1', ok: true }]);
    sandbox.control.revoke(contoso.id, 'revoked');
    expect((await identity.acquireToken(account, { forceRefresh: true })).ok).toBe(false);
    expect(outcomes.at(-1)).toEqual({ connectionId: 'c1', ok: false, code: 'AADSTS50173', message: expect.stringContaining('AADSTS50173') });
  });

  it('lets another host use the persisted cache', async () => {
    const grant = await consented(platform());
    const otherHost = platform();
    expect((await otherHost.acquireToken({ connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId }, { forceRefresh: true })).ok).toBe(true);
  });

  it.each([
    ['revoked', 'AADSTS50173'],
    ['consent', 'AADSTS65001'],
    ['expired', 'AADSTS700082'],
    ['disabled', 'AADSTS50057'],
  ] as const)('reports a grant ended by %s as reauthorization_required with %s', async (reason, code) => {
    const identity = platform();
    const grant = await consented(identity);
    sandbox.control.revoke(contoso.id, reason);
    const result = await identity.acquireToken({ connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId }, { forceRefresh: true });
    expect(result).toEqual({ ok: false, error: { kind: 'reauthorization_required', code, message: expect.stringContaining(code) } });
  });

  it('reports a missing cache as token_cache_missing, and forgets a connection for good', async () => {
    const identity = platform();
    const grant = await consented(identity);
    await identity.forget('c1');
    expect(secrets.values.size).toBe(0);
    const result = await identity.acquireToken({ connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId });
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ kind: 'reauthorization_required', code: 'token_cache_missing' }) });
  });

  it('refuses a code redeemed with the wrong PKCE verifier', async () => {
    const redeemed = await signIn(platform(), contoso.adminUpn, 'x'.repeat(43));
    expect(redeemed).toEqual({ ok: false, error: expect.objectContaining({ kind: 'refused', error: 'invalid_grant', code: 'AADSTS501481' }) });
  });

  it('proves the app with the managed identity\'s token as a client assertion, and sends no secret', async () => {
    const asked: string[] = [];
    const managedIdentity: TokenCredential = {
      getToken: async (scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> => {
        asked.push(...[scopes].flat());
        return { token: `mi-token-${asked.length}`, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    // The sandbox authority knows only its client secret: this client records what msal-node sends
    // to the token endpoint, then swaps the assertion for the secret so the flow can finish.
    const tokenRequests: URLSearchParams[] = [];
    const sandboxClient = createSandboxNetworkClient();
    const recording: INetworkModule = {
      sendGetRequestAsync: (url, options, timeout) => sandboxClient.sendGetRequestAsync(url, options, timeout),
      sendPostRequestAsync: (url, options) => {
        const form = new URLSearchParams(options?.body ?? '');
        if (new URL(url).pathname.endsWith('/oauth2/v2.0/token')) {
          tokenRequests.push(new URLSearchParams(form));
          form.delete('client_assertion');
          form.delete('client_assertion_type');
          form.set('client_secret', 'sandbox-client-secret');
        }
        return sandboxClient.sendPostRequestAsync(url, { ...options, body: form.toString() });
      },
    };
    const identity = new MsalIdentityPlatform({ clientId: 'sandbox-client', credential: { clientAssertion: managedIdentityAssertion(managedIdentity) }, authorityUrl: sandbox.url, redirectUri, secrets, logger, clock, networkClient: recording });

    const grant = await consented(identity);
    expect((await identity.acquireToken({ connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId }, { forceRefresh: true })).ok).toBe(true);

    expect(tokenRequests.map((form) => form.get('grant_type'))).toEqual(['authorization_code', 'refresh_token']);
    for (const form of tokenRequests) {
      expect(form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(form.get('client_assertion')).toMatch(/^mi-token-\d+$/);
      expect(form.has('client_secret')).toBe(false);
    }
    expect(new Set(asked)).toEqual(new Set([tokenExchangeScope]));
  });

  it('reports a managed identity that cannot answer as a transient failure, not a lost grant', async () => {
    const grant = await consented(platform());
    const failing: TokenCredential = { getToken: () => Promise.reject(new Error('ManagedIdentityCredential: no managed identity endpoint')) };
    const identity = new MsalIdentityPlatform({ clientId: 'sandbox-client', credential: { clientAssertion: managedIdentityAssertion(failing) }, authorityUrl: sandbox.url, redirectUri, secrets, logger, clock, networkClient: createSandboxNetworkClient() });
    const result = await identity.acquireToken({ connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId }, { forceRefresh: true });
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ kind: 'transient' }) });
  });

  it('builds the consent URL for Microsoft on the production path, from msal-node metadata without a network call', async () => {
    const live = new MsalIdentityPlatform({ clientId: '00000000-0000-0000-0000-000000000001', credential: { clientSecret: 'secret' }, authorityUrl: 'https://login.microsoftonline.com', redirectUri: 'https://bridge.example/api/oauth/callback', secrets, logger, clock });
    const pkce = await live.createPkce();
    const url = new URL(await live.authorizationUrl({ state: 's', codeChallenge: pkce.challenge }));
    expect(`${url.origin}${url.pathname}`).toBe('https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize');
    expect(url.searchParams.get('redirect_uri')).toBe('https://bridge.example/api/oauth/callback');
    expect(url.searchParams.get('code_challenge')).toBe(pkce.challenge);
  });

  it('reports an unreachable authority as transient', async () => {
    const grant = await consented(platform());
    const result = await platform('https://127.0.0.1:1').acquireToken({ connectionId: 'c1', tenantId: grant.tenantId, homeAccountId: grant.homeAccountId }, { forceRefresh: true });
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ kind: 'transient' }) });
  });
});
