import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../domain/ports/clock';
import type { Grant, SandboxState } from './sandbox-state';
import { escapeHtml, htmlReply, jsonReply, redirectReply, type SandboxReply, type SandboxRequest } from './sandbox-http';
import type { SandboxSigningKey } from './sandbox-jwt';
import { base64url } from './sandbox-jwt';
import type { TenantDirectory, UserRecord } from './tenant-directory';
import { sandboxSignInAccounts, sandboxSignInPassword, sandboxTenants } from './seed';

/** The one confidential client the sandbox knows (config defaults M365_CLIENT_ID/SECRET). */
export const sandboxClient = {
  clientId: 'sandbox-client',
  clientSecret: 'sandbox-client-secret',
  displayName: 'm365-bridge (sandbox)',
  /** The app registration's configured Graph permissions: what `.default` stands for. */
  configuredPermissions: ['User.Read', 'User.ReadWrite.All', 'Group.ReadWrite.All', 'Domain.Read.All', 'Directory.Read.All'],
} as const;

const graphResource = 'https://graph.microsoft.com';
const oidcScopes = new Set(['openid', 'profile', 'offline_access', 'email']);

/** Token lifetimes in real seconds before the time scale divides them. */
export interface AuthoritySettings {
  accessTokenLifetimeSec: number;
  refreshTokenInactivitySec: number;
  authCodeLifetimeSec: number;
}

export const defaultAuthoritySettings: AuthoritySettings = {
  // Entra issues access tokens for 60-90 minutes; refresh tokens expire after 90 days unused.
  accessTokenLifetimeSec: 3599,
  refreshTokenInactivitySec: 90 * 24 * 3600,
  authCodeLifetimeSec: 600,
};

/** The caller behind a Graph access token. */
export interface AccessContext {
  readonly tenant: TenantDirectory;
  readonly userId: string;
  readonly upn: string;
  readonly appId: string;
  readonly scopes: ReadonlySet<string>;
}

/** `revoked`: the token was issued before its session was revoked (`notBeforeMs`, the revocation instant). */
export type AuthenticationOutcome =
  | { ok: true; context: AccessContext }
  | { ok: false; reason: 'missing' | 'invalid' | 'expired' }
  | { ok: false; reason: 'revoked'; notBeforeMs: number };

/** A verified access token, cached: signature checks are the hot path's cost. */
interface VerifiedToken {
  readonly context: AccessContext;
  readonly expMs: number;
  readonly issuedAtSec: number;
  /** The grant (session) the token was issued under; undefined for a control-API token. */
  readonly grantId: string | undefined;
}

interface AuthCode {
  readonly tenantId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scopes: string[];
  readonly codeChallenge: string | undefined;
  readonly codeChallengeMethod: string;
  readonly nonce: string | undefined;
  readonly expiresAtMs: number;
  redeemed: boolean;
}

/** `invalid_grant` messages for each way a grant can end (Entra error code reference). */
const revocationMessages: Readonly<Record<number, string>> = {
  50173: 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
  65001: `The user or administrator has not consented to use the application with ID '${sandboxClient.clientId}' named '${sandboxClient.displayName}'. Send an interactive authorization request for this user and resource.`,
  700082: 'The refresh token has expired due to inactivity.',
  50057: 'The user account is disabled.',
};

function isLoopbackRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    return (url.protocol === 'http:' || url.protocol === 'https:') && (url.hostname === 'localhost' || url.hostname === '127.0.0.1') && url.hash === '';
  } catch {
    return false;
  }
}

function stsTimestamp(nowMs: number): string {
  return `${new Date(nowMs).toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** Resource scopes without Graph's prefix, the form Entra echoes in `scope`. */
function resourceScopes(requested: string[]): string[] {
  return requested
    .filter((s) => !oidcScopes.has(s.toLowerCase()))
    .map((s) => (s.toLowerCase().startsWith(`${graphResource}/`) ? s.slice(graphResource.length + 1) : s))
    .flatMap((s) => (s.toLowerCase() === '.default' ? [...sandboxClient.configuredPermissions] : [s]));
}

/** The simulated Entra authority: metadata, authorize (consent page), token, and access token checks. */
export class SandboxAuthority {
  private readonly codes = new Map<string, AuthCode>();
  private readonly verifiedTokens = new Map<string, VerifiedToken>();

  constructor(
    private readonly state: SandboxState,
    private readonly key: SandboxSigningKey,
    private readonly baseUrl: string,
    private readonly clock: Clock,
    private readonly timeScale: number,
    readonly settings: AuthoritySettings,
  ) {}

  /** Answers authority paths; undefined when the path is not the authority's. */
  handle(req: SandboxRequest): SandboxReply | undefined {
    const segments = req.path.split('/').filter((s) => s !== '');
    const [tenantSegment, ...rest] = segments;
    if (tenantSegment === undefined) return undefined;
    const route = rest.join('/');
    if (tenantSegment === 'common' && route === 'discovery/instance') return this.instanceDiscovery(req);
    switch (route) {
      case 'v2.0/.well-known/openid-configuration':
      case '.well-known/openid-configuration':
        return this.openIdConfiguration(req, decodeURIComponent(tenantSegment));
      case 'discovery/v2.0/keys':
      case 'discovery/keys':
        return jsonReply(200, { keys: [this.key.jwk()] });
      case 'oauth2/v2.0/authorize':
        return this.authorize(req, decodeURIComponent(tenantSegment));
      case 'oauth2/v2.0/token':
        return req.method === 'POST' ? this.token(req, decodeURIComponent(tenantSegment)) : this.stsError(req, 400, 'invalid_request', 900561, `The endpoint only accepts POST requests. Received a ${req.method} request.`);
      default:
        return undefined;
    }
  }

  /**
   * Signs an access token for `user`: under a grant from the token endpoint, or without one for the
   * control API (a test script acting "behind the app's back"). `sid` names the grant as Entra's
   * tokens name the session, so revoking the grant revokes its access tokens too.
   */
  issueAccessToken(tenant: TenantDirectory, user: UserRecord, clientId: string, scopes: string[], grantId?: string): { token: string; expiresInSec: number } {
    const nowSec = Math.floor(this.nowMs() / 1000);
    const expiresInSec = Math.max(1, Math.round(this.settings.accessTokenLifetimeSec / this.timeScale));
    const upn = String(user.props.userPrincipalName);
    const token = this.key.sign({
      aud: graphResource,
      iss: `https://sts.windows.net/${tenant.id}/`,
      iat: nowSec,
      nbf: nowSec,
      exp: nowSec + expiresInSec,
      app_displayname: sandboxClient.displayName,
      appid: clientId,
      idtyp: 'user',
      name: user.props.displayName,
      oid: user.id,
      scp: resourceScopes(scopes).join(' '),
      ...(grantId === undefined ? {} : { sid: grantId }),
      sub: user.id,
      tid: tenant.id,
      unique_name: upn,
      upn,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
      wids: user.roles,
    });
    return { token, expiresInSec };
  }

  /**
   * Checks a Graph `Authorization` header. Like Graph with continuous access evaluation, a token of
   * a revoked grant, or issued before its user's sessions were revoked (password reset), is refused
   * at once rather than when it expires. Real Graph does so only for clients that declare the CP1
   * capability (others keep their token until it expires); the sandbox holds every client to it so
   * the service's path from a refused token to re-consent is exercised. Control-API tokens have no
   * grant: revoking the app's grants leaves them working until they expire.
   */
  authenticate(authorization: string | undefined): AuthenticationOutcome {
    if (!authorization || !/^bearer\s+/i.test(authorization)) return { ok: false, reason: 'missing' };
    const token = authorization.replace(/^bearer\s+/i, '').trim();
    if (token === '') return { ok: false, reason: 'missing' };
    const nowMs = this.nowMs();
    const verified = this.verifiedTokens.get(token) ?? this.verify(token);
    if (verified === undefined) return { ok: false, reason: 'invalid' };
    if (verified.expMs <= nowMs) return { ok: false, reason: 'expired' };
    const revokedAtMs = this.revokedAtMs(verified);
    if (revokedAtMs !== undefined) return { ok: false, reason: 'revoked', notBeforeMs: revokedAtMs };
    return { ok: true, context: verified.context };
  }

  private verify(token: string): VerifiedToken | undefined {
    const claims = this.key.verify(token);
    if (!claims || claims.aud !== graphResource || typeof claims.tid !== 'string' || typeof claims.oid !== 'string' || typeof claims.exp !== 'number') return undefined;
    const tenant = this.state.tenants.get(claims.tid);
    if (!tenant) return undefined;
    const verified: VerifiedToken = {
      context: {
        tenant,
        userId: claims.oid,
        upn: String(claims.upn ?? ''),
        appId: String(claims.appid ?? ''),
        scopes: new Set(String(claims.scp ?? '').split(' ').filter((s) => s !== '').map((s) => s.toLowerCase())),
      },
      expMs: claims.exp * 1000,
      issuedAtSec: typeof claims.iat === 'number' ? claims.iat : 0,
      grantId: typeof claims.sid === 'string' ? claims.sid : undefined,
    };
    if (this.verifiedTokens.size >= 10_000) this.verifiedTokens.clear();
    this.verifiedTokens.set(token, verified);
    return verified;
  }

  /** When the token's session ended, if it has: its grant revoked, or its user's tokens invalidated since it was issued. */
  private revokedAtMs(verified: VerifiedToken): number | undefined {
    if (verified.grantId === undefined) return undefined;
    const grant = this.state.grants.get(verified.grantId);
    // A grant gone (reset) ended the session as surely as a revocation.
    if (grant === undefined) return this.nowMs();
    if (grant.revoked) return grant.revoked.atMs;
    const validFromMs = verified.context.tenant.users.get(verified.context.userId)?.tokensValidFromMs ?? 0;
    // `iat` has whole seconds: a token from the second of the reset is given the benefit of the doubt.
    return verified.issuedAtSec < Math.floor(validFromMs / 1000) ? validFromMs : undefined;
  }

  /** Forgets cached verifications (after a reset the tenants they point at are gone). */
  clearCaches(): void {
    this.verifiedTokens.clear();
    this.codes.clear();
  }

  private nowMs(): number {
    return this.clock.now().getTime();
  }

  private scaledMs(seconds: number): number {
    return (seconds * 1000) / this.timeScale;
  }

  private instanceDiscovery(req: SandboxRequest): SandboxReply {
    const host = new URL(this.baseUrl).host;
    return jsonReply(200, {
      tenant_discovery_endpoint: `${this.baseUrl}/${req.query.get('authorization_endpoint')?.split('/')[3] ?? 'common'}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
  }

  /** Mirrors https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration. */
  private openIdConfiguration(req: SandboxRequest, tenantSegment: string): SandboxReply {
    const generic = ['common', 'organizations'].includes(tenantSegment.toLowerCase());
    const tenant = generic ? undefined : this.state.tenant(tenantSegment);
    if (!generic && !tenant) return this.unknownTenant(req, tenantSegment);
    const pathTenant = tenant ? tenant.id : tenantSegment.toLowerCase();
    const issuerTenant = tenant ? tenant.id : '{tenantid}';
    const base = `${this.baseUrl}/${pathTenant}`;
    return jsonReply(200, {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${this.baseUrl}/${issuerTenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${this.baseUrl}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name', 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username', 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'NA',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: new URL(this.baseUrl).host,
      rbac_url: 'https://pas.windows.net',
    });
  }

  private authorize(req: SandboxRequest, tenantSegment: string): SandboxReply {
    const params = req.method === 'POST' ? new URLSearchParams(req.bodyText) : req.query;
    const clientId = params.get('client_id') ?? '';
    const redirectUri = params.get('redirect_uri') ?? '';
    if (clientId !== sandboxClient.clientId) {
      return this.errorPage(700016, `Application with identifier '${clientId}' was not found in the directory '${tenantSegment}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    if (!isLoopbackRedirect(redirectUri)) {
      return this.errorPage(50011, `The redirect URI '${redirectUri}' specified in the request does not match the redirect URIs configured for the application '${clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.`);
    }
    const state = params.get('state') ?? undefined;
    const back = (query: Record<string, string>): SandboxReply => this.redirectBack(redirectUri, params.get('response_mode'), { ...query, ...(state !== undefined ? { state } : {}) });
    const generic = ['common', 'organizations'].includes(tenantSegment.toLowerCase());
    const pinned = generic ? undefined : this.state.tenant(tenantSegment);
    if (!generic && !pinned) return this.errorPage(90002, `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    if (params.get('response_type') !== 'code') {
      return back({ error: 'unsupported_response_type', error_description: this.describe(700054, `Response_type '${params.get('response_type') ?? ''}' is not enabled for the application.`) });
    }
    const scope = params.get('scope') ?? '';
    if (scope.trim() === '') return back({ error: 'invalid_request', error_description: this.describe(900144, "The request body must contain the following parameter: 'scope'.") });
    const challenge = params.get('code_challenge') ?? undefined;
    const method = params.get('code_challenge_method') ?? 'plain';
    if (challenge !== undefined && method !== 'S256' && method !== 'plain') {
      return back({ error: 'invalid_request', error_description: this.describe(501491, 'Invalid size of Code_Challenge parameter.') });
    }

    const autoConsent = params.get('sandbox_auto_consent') === '1';
    const decision = params.get('sandbox_decision');
    const upn = (req.method === 'POST' ? params.get('sandbox_upn') : undefined) ?? (autoConsent ? params.get('login_hint') : undefined);
    if (decision === 'cancel') {
      return back({ error: 'access_denied', error_description: this.describe(65004, 'User declined to consent to access the app.') });
    }
    if (upn === undefined || upn === null || upn === '') return this.consentPage(tenantSegment, params);

    // The sign-in form asks for the password; the automation shortcut (sandbox_auto_consent) signs in without one.
    if (!autoConsent && params.get('sandbox_password') !== sandboxSignInPassword) {
      return this.errorPage(50126, 'Error validating credentials due to invalid username or password.');
    }
    const domain = upn.slice(upn.lastIndexOf('@') + 1);
    const tenant = this.state.tenantOfDomain(domain);
    const user = tenant?.findUser(upn);
    if (!tenant || !user) {
      return this.errorPage(50034, `The user account ${upn} does not exist in the '${pinned?.id ?? domain}' directory. To sign into this application, the account must be added to the directory.`);
    }
    if (pinned && pinned.id !== tenant.id) {
      return this.errorPage(50020, `User account '${upn}' from identity provider 'https://sts.windows.net/${tenant.id}/' does not exist in tenant '${pinned.displayName}' and cannot access the application '${clientId}'(${sandboxClient.displayName}) in that tenant.`);
    }
    if (user.props.accountEnabled !== true) return this.errorPage(50057, 'The user account is disabled.');

    const code = `0.A${randomBytes(48).toString('base64url')}`;
    this.codes.set(code, {
      tenantId: tenant.id,
      userId: user.id,
      clientId,
      redirectUri,
      scopes: scope.split(/\s+/).filter((s) => s !== ''),
      codeChallenge: challenge,
      codeChallengeMethod: method,
      nonce: params.get('nonce') ?? undefined,
      expiresAtMs: this.nowMs() + this.scaledMs(this.settings.authCodeLifetimeSec),
      redeemed: false,
    });
    const extra: Record<string, string> = { code };
    if (params.get('client_info') === '1') extra.client_info = this.clientInfo(tenant.id, user.id);
    extra.session_state = randomUUID();
    return back(extra);
  }

  private redirectBack(redirectUri: string, responseMode: string | null, query: Record<string, string>): SandboxReply {
    if (responseMode === 'form_post') {
      const inputs = Object.entries(query).map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}"/>`).join('');
      return htmlReply(200, `<html><body onload="document.forms[0].submit()"><form method="POST" action="${escapeHtml(redirectUri)}">${inputs}<noscript><button type="submit">Continue</button></noscript></form></body></html>`);
    }
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return redirectReply(url.toString());
  }

  private consentPage(tenantSegment: string, params: URLSearchParams): SandboxReply {
    const hidden = [...params.entries()]
      .filter(([k]) => !k.startsWith('sandbox_'))
      .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}"/>`)
      .join('\n');
    const scopes = (params.get('scope') ?? '').split(/\s+/).filter((s) => s !== '').map((s) => `<li>${escapeHtml(s)}</li>`).join('');
    const hint = params.get('login_hint') ?? '';
    const action = `${this.baseUrl}/${encodeURIComponent(tenantSegment)}/oauth2/v2.0/authorize`;
    const accounts = sandboxSignInAccounts
      .map((a) => `<tr><td>${escapeHtml(sandboxTenants[a.tenant].displayName)}</td><td>${escapeHtml(a.upn)}</td><td><code>${escapeHtml(a.password)}</code>${a.note === undefined ? '' : ` (${escapeHtml(a.note)})`}</td></tr>`)
      .join('\n');
    return htmlReply(
      200,
      `<!doctype html><html><head><meta charset="utf-8"><title>Permissions requested - sandbox tenant</title></head><body>
<h1>Permissions requested</h1>
<p><strong>${escapeHtml(sandboxClient.displayName)}</strong> would like to:</p><ul>${scopes}</ul>
<form method="POST" action="${escapeHtml(action)}">
${hidden}
<label>Sign in as <input name="sandbox_upn" type="email" value="${escapeHtml(hint)}" autocomplete="username" required/></label>
<label>Password <input name="sandbox_password" type="password" autocomplete="current-password" required/></label>
<button name="sandbox_decision" value="accept" type="submit">Accept</button>
<button name="sandbox_decision" value="cancel" type="submit" formnovalidate>Cancel</button>
</form>
<h2>Sandbox accounts</h2>
<p>This is the sandbox, a simulator of Microsoft Entra ID on this computer. Its accounts are not real and these are not secrets. A Global Administrator of each tenant:</p>
<table><thead><tr><th>Tenant</th><th>Account</th><th>Password</th></tr></thead><tbody>
${accounts}
</tbody></table></body></html>`,
    );
  }

  private token(req: SandboxRequest, tenantSegment: string): SandboxReply {
    const params = new URLSearchParams(req.bodyText);
    let clientId = params.get('client_id') ?? undefined;
    let clientSecret = params.get('client_secret') ?? undefined;
    const basic = req.headers.authorization;
    if (basic && /^basic\s+/i.test(basic)) {
      const decoded = Buffer.from(basic.replace(/^basic\s+/i, ''), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      clientId = decodeURIComponent(decoded.slice(0, colon));
      clientSecret = decodeURIComponent(decoded.slice(colon + 1));
    }
    if (clientId === undefined) return this.stsError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'client_id'.");
    if (clientId !== sandboxClient.clientId) {
      return this.stsError(req, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory '${tenantSegment}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`);
    }
    if (clientSecret === undefined) return this.stsError(req, 401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
    if (!safeEqual(clientSecret, sandboxClient.clientSecret)) {
      return this.stsError(req, 401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
    }
    const generic = ['common', 'organizations'].includes(tenantSegment.toLowerCase());
    const pinned = generic ? undefined : this.state.tenant(tenantSegment);
    if (!generic && !pinned) return this.unknownTenant(req, tenantSegment);
    const grantType = params.get('grant_type');
    if (grantType === 'authorization_code') return this.redeemCode(req, params, pinned);
    if (grantType === 'refresh_token') return this.redeemRefreshToken(req, params, pinned);
    if (grantType === null) return this.stsError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.");
    return this.stsError(req, 400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'.`);
  }

  private redeemCode(req: SandboxRequest, params: URLSearchParams, pinned: TenantDirectory | undefined): SandboxReply {
    const codeValue = params.get('code');
    if (!codeValue) return this.stsError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'code'.");
    const code = this.codes.get(codeValue);
    if (!code) return this.stsError(req, 400, 'invalid_grant', 70000, "The provided value for the 'code' parameter is not valid.");
    if (code.redeemed) return this.stsError(req, 400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.');
    if (code.expiresAtMs <= this.nowMs()) {
      return this.stsError(req, 400, 'invalid_grant', 70008, 'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.');
    }
    if (pinned && pinned.id !== code.tenantId) return this.stsError(req, 400, 'invalid_grant', 700005, 'Provided Authorization Code is intended to use against other tenant, thus rejected.');
    const redirectUri = params.get('redirect_uri') ?? '';
    if (redirectUri !== code.redirectUri) {
      return this.stsError(req, 400, 'invalid_grant', 500112, `The reply address '${redirectUri}' does not match the reply address '${code.redirectUri}' provided when requesting Authorization code.`);
    }
    if (code.codeChallenge !== undefined) {
      const verifier = params.get('code_verifier') ?? '';
      const expected = code.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (verifier === '' || !safeEqual(expected, code.codeChallenge)) {
        return this.stsError(req, 400, 'invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge supplied in the authorization request.');
      }
    }
    const tenant = this.state.tenants.get(code.tenantId);
    const user = tenant?.findUser(code.userId);
    if (!tenant || !user) return this.stsError(req, 400, 'invalid_grant', 50034, 'The user account does not exist in the directory.');
    code.redeemed = true;
    const nowMs = this.nowMs();
    const refreshToken = newRefreshToken();
    const grant = this.state.addGrant(
      { id: randomUUID(), tenantId: tenant.id, userId: user.id, upn: String(user.props.userPrincipalName), clientId: code.clientId, scopes: code.scopes, createdAtMs: nowMs, revoked: undefined },
      refreshToken,
      nowMs,
    );
    return this.tokenResponse(tenant, user, grant, refreshToken, code.nonce);
  }

  private redeemRefreshToken(req: SandboxRequest, params: URLSearchParams, pinned: TenantDirectory | undefined): SandboxReply {
    const token = params.get('refresh_token');
    if (!token) return this.stsError(req, 400, 'invalid_request', 900144, "The request body must contain the following parameter: 'refresh_token'.");
    const found = this.state.refreshToken(token);
    if (!found) return this.stsError(req, 400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.');
    const { grant, record: issued } = found;
    const nowMs = this.nowMs();
    const issuedOn = new Date(issued.issuedAtMs).toISOString();
    if (grant.revoked) {
      const { code } = grant.revoked;
      const suberror = code === 65001 ? 'consent_required' : 'bad_token';
      const detail = code === 50173 ? ` The grant was issued on '${issuedOn}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${new Date(grant.revoked.atMs).toISOString()}'.` : code === 700082 ? ` The token was issued on ${issuedOn} and was inactive for 90.00:00:00.` : '';
      return this.stsError(req, 400, 'invalid_grant', code, `${revocationMessages[code] ?? 'The refresh token is not valid.'}${detail}`, suberror);
    }
    if (pinned && pinned.id !== grant.tenantId) return this.stsError(req, 400, 'invalid_grant', 700005, 'Provided refresh token is intended to use against other tenant, thus rejected.');
    if (nowMs - issued.lastUsedAtMs > this.scaledMs(this.settings.refreshTokenInactivitySec)) {
      return this.stsError(req, 400, 'invalid_grant', 700082, `The refresh token has expired due to inactivity. The token was issued on ${issuedOn} and was inactive for 90.00:00:00.`, 'bad_token');
    }
    const tenant = this.state.tenants.get(grant.tenantId);
    const user = tenant?.users.get(grant.userId);
    if (!tenant || !user || user.deletedSeq !== undefined) {
      return this.stsError(req, 400, 'invalid_grant', 50173, `${revocationMessages[50173] ?? ''} The grant was issued on '${issuedOn}'.`, 'bad_token');
    }
    if (user.props.accountEnabled !== true) return this.stsError(req, 400, 'invalid_grant', 50057, 'The user account is disabled.', 'user_password_expired');
    if (user.tokensValidFromMs > issued.issuedAtMs) {
      return this.stsError(req, 400, 'invalid_grant', 50173, `${revocationMessages[50173] ?? ''} The grant was issued on '${issuedOn}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${new Date(user.tokensValidFromMs).toISOString()}'.`, 'bad_token');
    }
    const requested = (params.get('scope') ?? '').split(/\s+/).filter((s) => s !== '');
    const consented = new Set(resourceScopes(grant.scopes).map((s) => s.toLowerCase()));
    const asksDefault = requested.some((s) => s.toLowerCase().endsWith('.default'));
    const wanted = asksDefault ? [] : resourceScopes(requested);
    const missing = wanted.filter((s) => !consented.has(s.toLowerCase()));
    if (missing.length > 0) {
      return this.stsError(req, 400, 'invalid_grant', 65001, revocationMessages[65001] ?? '', 'consent_required');
    }
    this.state.touchRefreshToken(grant, issued, nowMs);
    const rotated = newRefreshToken();
    this.state.addRefreshToken(grant, rotated, nowMs);
    return this.tokenResponse(tenant, user, grant, rotated, undefined);
  }

  /** Entra access tokens carry every scope consented for the resource, not only the ones asked for. */
  private tokenResponse(tenant: TenantDirectory, user: UserRecord, grant: Grant, refreshToken: string, nonce: string | undefined): SandboxReply {
    const { clientId, scopes } = grant;
    const { token, expiresInSec } = this.issueAccessToken(tenant, user, clientId, scopes, grant.id);
    const nowSec = Math.floor(this.nowMs() / 1000);
    const idClaims: Record<string, unknown> = {
      aud: clientId,
      iss: `${this.baseUrl}/${tenant.id}/v2.0`,
      iat: nowSec,
      nbf: nowSec,
      exp: nowSec + 3600,
      name: user.props.displayName,
      oid: user.id,
      preferred_username: user.props.userPrincipalName,
      rh: randomBytes(12).toString('base64url'),
      sub: createHash('sha256').update(`${tenant.id}:${user.id}:${clientId}`).digest('base64url').slice(0, 43),
      tid: tenant.id,
      uti: randomBytes(16).toString('base64url'),
      ver: '2.0',
    };
    if (nonce !== undefined) idClaims.nonce = nonce;
    const oidcRequested = scopes.filter((s) => oidcScopes.has(s.toLowerCase()) && s.toLowerCase() !== 'offline_access');
    return jsonReply(
      200,
      {
        token_type: 'Bearer',
        scope: [...resourceScopes(scopes), ...oidcRequested].join(' '),
        expires_in: expiresInSec,
        ext_expires_in: expiresInSec,
        access_token: token,
        refresh_token: refreshToken,
        id_token: this.key.sign(idClaims),
        client_info: this.clientInfo(tenant.id, user.id),
      },
      { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
    );
  }

  private clientInfo(tenantId: string, userId: string): string {
    return base64url(JSON.stringify({ uid: userId, utid: tenantId }));
  }

  private describe(code: number, message: string, traceId: string = randomUUID(), correlationId: string = randomUUID()): string {
    return `AADSTS${code}: ${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${stsTimestamp(this.nowMs())}`;
  }

  /** The STS error body (Entra "Handling error codes in your application"). */
  private stsError(req: SandboxRequest, status: number, error: string, code: number, message: string, suberror?: string): SandboxReply {
    const traceId = randomUUID();
    const correlationId = req.headers['client-request-id'] ?? randomUUID();
    const body: Record<string, unknown> = {
      error,
      error_description: this.describe(code, message, traceId, correlationId),
      error_codes: [code],
      timestamp: stsTimestamp(this.nowMs()),
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    };
    if (suberror !== undefined) body.suberror = suberror;
    return jsonReply(status, body, { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' });
  }

  private unknownTenant(req: SandboxRequest, tenantSegment: string): SandboxReply {
    return this.stsError(req, 400, 'invalid_tenant', 90002, `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`);
  }

  private errorPage(code: number, message: string): SandboxReply {
    return htmlReply(400, `<!doctype html><html><head><meta charset="utf-8"><title>Sign in - sandbox tenant</title></head><body><h1>Sorry, but we're having trouble signing you in.</h1><p id="error">${escapeHtml(this.describe(code, message))}</p></body></html>`);
  }
}

function newRefreshToken(): string {
  return `1.A${randomBytes(96).toString('base64url')}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
