import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger, LogFields } from '../../src/domain/ports/logger';
import { startSandbox, type SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import { call, contoso, manualClock, strongPassword } from './sandbox-test-client';

// Sources:
// - MicrosoftDocs/entra-docs docs/identity-platform/claims-challenge.md and
//   app-resilience-continuous-access-evaluation.md: a revoked token gets 401 with
//   `WWW-Authenticate: Bearer ... error="insufficient_claims", claims="<base64 JSON>"`, the claims being
//   {"access_token":{"nbf":{"essential":true, "value":"<epoch seconds>"}}}.
// - microsoftgraph/msgraph-sdk-powershell#1741: Graph's message for it, "Continuous access evaluation
//   resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp".
// - MicrosoftDocs/microsoft-graph-docs concepts/errors.md: the error envelope, code InvalidAuthenticationToken.
// - MicrosoftDocs/entra-docs docs/identity-platform/reference-error-codes.md: AADSTS50173 after revocation.

const redirectUri = 'http://localhost:7071/api/oauth/callback';
const clientSecret = 'sandbox-client-secret';
const revokedMessage = 'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp';

interface Issued {
  accessToken: string;
  refreshToken: string;
  idToken: string;
  code: string;
  verifier: string;
}

async function consent(sandbox: SandboxHandle, upn: string): Promise<Issued> {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const query = new URLSearchParams({ client_id: 'sandbox-client', response_type: 'code', redirect_uri: redirectUri, scope: 'openid profile offline_access User.ReadWrite.All', login_hint: upn, sandbox_auto_consent: '1', code_challenge: challenge, code_challenge_method: 'S256' });
  const authorize = await call(`${sandbox.url}/organizations/oauth2/v2.0/authorize?${query.toString()}`);
  const code = new URL(String(authorize.headers.location)).searchParams.get('code') ?? '';
  const tokens = await token(sandbox, { grant_type: 'authorization_code', code, code_verifier: verifier });
  expect(tokens.status).toBe(200);
  return { accessToken: tokens.body.access_token, refreshToken: tokens.body.refresh_token, idToken: tokens.body.id_token, code, verifier };
}

function token(sandbox: SandboxHandle, form: Record<string, string>) {
  return call(`${sandbox.url}/organizations/oauth2/v2.0/token`, { form: { client_id: 'sandbox-client', client_secret: clientSecret, redirect_uri: redirectUri, scope: 'User.ReadWrite.All offline_access', ...form } });
}

function me(sandbox: SandboxHandle, accessToken: string) {
  return call(`${sandbox.url}/v1.0/me?$select=id`, { headers: { authorization: `Bearer ${accessToken}` } });
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return fs.statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** Every log line the sandbox writes, as text. */
function capturingLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, fields?: LogFields) => void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: () => logger };
  return logger;
}

function expectRevocationChallenge(res: Awaited<ReturnType<typeof me>>, revokedAtMs: number): void {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({
    error: {
      code: 'InvalidAuthenticationToken',
      message: revokedMessage,
      innerError: { date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/), 'request-id': expect.any(String), 'client-request-id': expect.any(String) },
    },
  });
  const challenge = String(res.headers['www-authenticate']);
  expect(challenge).toMatch(/^Bearer realm="", authorization_uri="https:\/\/login\.microsoftonline\.com\/common\/oauth2\/authorize", client_id="00000003-0000-0000-c000-000000000000", /);
  expect(challenge).toContain(`error_description="${revokedMessage}"`);
  expect(challenge).toContain('error="insufficient_claims"');
  const claims = /claims="([^"]+)"/.exec(challenge)?.[1] ?? '';
  expect(JSON.parse(Buffer.from(claims, 'base64').toString('utf8'))).toEqual({ access_token: { nbf: { essential: true, value: String(Math.floor(revokedAtMs / 1000)) } } });
}

describe('continuous access evaluation: Graph refuses access tokens of a revoked session', () => {
  let sandbox: SandboxHandle;
  const clock = manualClock();

  beforeAll(async () => {
    sandbox = await startSandbox({ clock });
  });
  afterAll(async () => {
    await sandbox.close();
  });
  afterEach(() => {
    sandbox.control.reset();
  });

  it('answers a revoked grant’s still-unexpired token with the 401 claims challenge, while control-API tokens keep working', async () => {
    const issued = await consent(sandbox, contoso.adminUpn);
    const scriptToken = sandbox.control.issueToken(contoso.id, contoso.adminUpn).access_token;
    expect((await me(sandbox, issued.accessToken)).status).toBe(200);

    clock.advance(5_000);
    const revokedAtMs = clock.now().getTime();
    expect((await call(`${sandbox.url}/_sandbox/tenants/${contoso.id}/revoke`, { body: {} })).body).toEqual({ revoked: 1 });

    expectRevocationChallenge(await me(sandbox, issued.accessToken), revokedAtMs);
    // A $batch is authenticated as a whole.
    const batch = await call(`${sandbox.url}/v1.0/$batch`, { headers: { authorization: `Bearer ${issued.accessToken}` }, body: { requests: [{ id: '1', method: 'GET', url: '/me' }] } });
    expect(batch.status).toBe(401);
    const refreshed = await token(sandbox, { grant_type: 'refresh_token', refresh_token: issued.refreshToken });
    expect(refreshed.body.error_codes).toEqual([50173]);
    // A test script's token belongs to no grant: revoking the app's grants leaves it alone.
    expect((await me(sandbox, scriptToken)).status).toBe(200);

    // A new consent is a new grant, untouched by the earlier revocation.
    const again = await consent(sandbox, contoso.adminUpn);
    expect((await me(sandbox, again.accessToken)).status).toBe(200);
  });

  it('refuses the tokens of an in-process revocation, and those issued before the user’s password was reset', async () => {
    const admin = await consent(sandbox, contoso.adminUpn);
    sandbox.control.revoke(contoso.id, 'consent');
    expectRevocationChallenge(await me(sandbox, admin.accessToken), clock.now().getTime());

    const user = await consent(sandbox, 'avery.archer@contoso.com');
    const adminScript = sandbox.control.issueToken(contoso.id, contoso.adminUpn).access_token;
    clock.advance(2_000);
    const resetAtMs = clock.now().getTime();
    const reset = await call(`${sandbox.url}/v1.0/users/avery.archer@contoso.com`, { method: 'PATCH', headers: { authorization: `Bearer ${adminScript}` }, body: { passwordProfile: { password: strongPassword } } });
    expect(reset.status).toBe(204);
    expectRevocationChallenge(await me(sandbox, user.accessToken), resetAtMs);
    expect((await token(sandbox, { grant_type: 'refresh_token', refresh_token: user.refreshToken })).body.error_codes).toEqual([50173]);
  });
});

describe('secrets at rest', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sandbox-secrets-'));
  });
  afterEach(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps no token, code, verifier, client secret or password under the data directory or in its log; refresh tokens still work after a restart', async () => {
    const log: string[] = [];
    const first = await startSandbox({ dataDir, logger: capturingLogger(log) });
    const secrets: string[] = [clientSecret];
    let lastRefreshToken: string;
    try {
      const issued = await consent(first, contoso.adminUpn);
      secrets.push(issued.accessToken, issued.refreshToken, issued.idToken, issued.code, issued.verifier);
      const refreshed = await token(first, { grant_type: 'refresh_token', refresh_token: issued.refreshToken });
      expect(refreshed.status).toBe(200);
      secrets.push(refreshed.body.access_token, refreshed.body.refresh_token);
      lastRefreshToken = refreshed.body.refresh_token;

      const auth = { authorization: `Bearer ${issued.accessToken}` };
      const initialPassword = `Aa1!${randomBytes(12).toString('hex')}`;
      const changedPassword = `Bb2?${randomBytes(12).toString('hex')}`;
      secrets.push(initialPassword, changedPassword);
      const created = await call(`${first.url}/v1.0/users`, { headers: auth, body: { accountEnabled: true, displayName: 'Kept Secret', mailNickname: 'kept.secret', userPrincipalName: 'kept.secret@contoso.com', passwordProfile: { forceChangePasswordNextSignIn: true, password: initialPassword } } });
      expect(created.status).toBe(201);
      expect((await call(`${first.url}/v1.0/users/kept.secret@contoso.com`, { method: 'PATCH', headers: auth, body: { passwordProfile: { password: changedPassword } } })).status).toBe(204);

      const listed = first.control.grants(contoso.id).flatMap((g) => g.refreshTokens.map((rt) => rt.token));
      expect(listed).toEqual([issued.refreshToken, refreshed.body.refresh_token]);
      // Written through while running (the WAL included), not only at close.
      expectNoneUnder(dataDir, secrets);
    } finally {
      await first.close();
    }
    expectNoneUnder(dataDir, secrets);
    for (const secret of secrets) expect(log.join('\n').includes(secret)).toBe(false);

    const second = await startSandbox({ dataDir });
    try {
      // Only hashes survived: the grant is there, but its earlier tokens can no longer be listed.
      expect(second.control.grants(contoso.id)).toEqual([expect.objectContaining({ upn: contoso.adminUpn, refreshTokens: [] })]);
      const afterRestart = await token(second, { grant_type: 'refresh_token', refresh_token: lastRefreshToken });
      expect(afterRestart.status).toBe(200);
      expect(second.control.grants(contoso.id)[0]?.refreshTokens.map((rt) => rt.token)).toEqual([afterRestart.body.refresh_token]);
      expect((await me(second, afterRestart.body.access_token)).status).toBe(200);
      // Revocation persists with the grant, so the session's tokens stay refused.
      second.control.revoke(contoso.id);
      expect((await me(second, afterRestart.body.access_token)).status).toBe(401);
    } finally {
      await second.close();
    }
  });
});

function expectNoneUnder(dir: string, secrets: readonly string[]): void {
  const files = filesUnder(dir);
  expect(files.some((file) => path.basename(file) === 'sandbox.db')).toBe(true);
  for (const file of files) {
    const content = fs.readFileSync(file).toString('latin1');
    const found = secrets.filter((secret) => content.includes(secret));
    expect({ file, found }).toEqual({ file, found: [] });
  }
}
