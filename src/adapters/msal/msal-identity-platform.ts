import { AuthError, ConfidentialClientApplication, CryptoProvider, InteractionRequiredAuthError, LogLevel, ServerError, type Configuration, type INetworkModule } from '@azure/msal-node';
import type { Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import type { SecretStore } from '../../domain/ports/secret-store';
import { err, ok, type Result } from '../../domain/result';
import type { ActivityOutcome } from '../../domain/connections/connection-activity';
import type { AuthorityFailure, ConnectionAccount, ConsentGrant, IdentityPlatform, PkcePair, TokenSourceFailure } from '../../domain/connections/identity-platform';
import { delegatedGraphScopes, graphResourceScopes } from './delegated-scopes';
import { SecretStoreCachePlugin, tokenCacheSecretName } from './secret-store-cache-plugin';

/**
 * The app's own credential: a client secret, or a callback answering a client assertion (a JWT
 * Entra ID accepts through a federated identity credential on the app registration).
 */
export type MsalClientCredential = { readonly clientSecret: string } | { readonly clientAssertion: () => Promise<string> };

export interface MsalIdentityPlatformOptions {
  readonly clientId: string;
  readonly credential: MsalClientCredential;
  /** AUTHORITY_URL without a tenant (`https://login.microsoftonline.com`). */
  readonly authorityUrl: string;
  /** `${PUBLIC_BASE_URL}/api/oauth/callback`. */
  readonly redirectUri: string;
  readonly secrets: SecretStore;
  readonly logger: Logger;
  /** A network client for an authority Node's default trust store cannot verify (the sandbox only). */
  readonly networkClient?: INetworkModule;
  readonly clock: Clock;
  /** Told of every token from the authority (a refresh or a persisted consent; not tokens served from a cache) and of every failure to get one. */
  readonly onRefresh?: (connectionId: string, outcome: ActivityOutcome) => void;
}

// Like msal-node, renew an access token this long before it expires.
const renewalMarginMs = 5 * 60 * 1000;

type JsonCache = Record<string, Record<string, unknown> | undefined>;

/** Every entry of both caches; `added` wins where both have a key. */
function mergeCaches(existing: string | undefined, added: string): string {
  if (existing === undefined) return added;
  const base = JSON.parse(existing) as JsonCache;
  const extra = JSON.parse(added) as JsonCache;
  const merged: JsonCache = { ...base };
  for (const [section, entries] of Object.entries(extra)) merged[section] = { ...(base[section] ?? {}), ...(entries ?? {}) };
  return JSON.stringify(merged);
}

function aadstsCode(error: AuthError & { errorNo?: string }): string {
  return error.errorNo !== undefined && error.errorNo !== '' ? `AADSTS${error.errorNo}` : error.errorCode;
}

/** The first line of an msal error message (the rest carries trace and correlation ids). */
function describe(error: unknown): string {
  const message = error instanceof AuthError ? error.errorMessage || error.message : error instanceof Error ? error.message : String(error);
  return (message.split(/\r?\n/)[0] ?? '').slice(0, 300);
}

// invalid_grant and the interaction-required family mean the grant itself is gone. Everything else
// (network, 5xx, 429, a misconfigured client secret) is not the connection's fault: retry later.
function classifyTokenError(error: unknown): TokenSourceFailure {
  if (error instanceof InteractionRequiredAuthError) return { kind: 'reauthorization_required', code: aadstsCode(error), message: describe(error) };
  if (error instanceof ServerError && error.errorCode === 'invalid_grant') return { kind: 'reauthorization_required', code: aadstsCode(error), message: describe(error) };
  return { kind: 'transient', message: describe(error) };
}

/**
 * The identity platform through msal-node. One ConfidentialClientApplication per connection, each
 * with a token cache persisted in the secret store (SecretStoreCachePlugin); consent codes are
 * redeemed into a throw-away in-memory cache that is persisted only once the consent is accepted.
 */
export class MsalIdentityPlatform implements IdentityPlatform {
  private readonly crypto = new CryptoProvider();
  private readonly consentApp: ConfidentialClientApplication;
  private readonly apps = new Map<string, { app: ConfidentialClientApplication; plugin: SecretStoreCachePlugin }>();
  // msal-node's silent path costs about a millisecond of CPU even for a cached token, once per Graph
  // request; the token itself is kept here until msal would renew it.
  private readonly current = new Map<string, { homeAccountId: string; token: string; renewAtMs: number }>();

  constructor(private readonly options: MsalIdentityPlatformOptions) {
    this.consentApp = this.createApp('organizations');
  }

  private createApp(tenant: string, cachePlugin?: SecretStoreCachePlugin): ConfidentialClientApplication {
    const log = this.options.logger.child({ component: 'msal' });
    const configuration: Configuration = {
      auth: {
        clientId: this.options.clientId,
        ...('clientSecret' in this.options.credential ? { clientSecret: this.options.credential.clientSecret } : { clientAssertion: this.options.credential.clientAssertion }),
        authority: `${this.options.authorityUrl}/${tenant}`,
        // AUTHORITY_URL is configuration, trusted as given: no instance discovery against
        // login.microsoftonline.com, so a sovereign cloud or a test double works on the same path.
        knownAuthorities: [new URL(this.options.authorityUrl).host],
      },
      ...(cachePlugin === undefined ? {} : { cache: { cachePlugin } }),
      system: {
        ...(this.options.networkClient === undefined ? {} : { networkClient: this.options.networkClient }),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message, containsPii) => {
            if (containsPii) return;
            if (level === LogLevel.Error) log.warn(message);
            else log.debug(message);
          },
        },
      },
    };
    return new ConfidentialClientApplication(configuration);
  }

  private appFor(connectionId: string, tenantId: string): { app: ConfidentialClientApplication; plugin: SecretStoreCachePlugin } {
    let entry = this.apps.get(connectionId);
    if (entry === undefined) {
      const plugin = new SecretStoreCachePlugin(this.options.secrets, tokenCacheSecretName(connectionId));
      entry = { app: this.createApp(tenantId, plugin), plugin };
      this.apps.set(connectionId, entry);
    }
    return entry;
  }

  async createPkce(): Promise<PkcePair> {
    const codes = await this.crypto.generatePkceCodes();
    return { verifier: codes.verifier, challenge: codes.challenge };
  }

  authorizationUrl(request: { readonly state: string; readonly codeChallenge: string }): Promise<string> {
    return this.consentApp.getAuthCodeUrl({
      scopes: [...delegatedGraphScopes],
      redirectUri: this.options.redirectUri,
      state: request.state,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: 'S256',
      prompt: 'select_account',
      responseMode: 'query',
    });
  }

  async redeemCode(request: { readonly code: string; readonly codeVerifier: string }): Promise<Result<ConsentGrant, AuthorityFailure>> {
    // A fresh application per redemption: its in-memory cache holds only this consent's tokens.
    const app = this.createApp('organizations');
    let result;
    try {
      result = await app.acquireTokenByCode({ code: request.code, codeVerifier: request.codeVerifier, redirectUri: this.options.redirectUri, scopes: [...graphResourceScopes] });
    } catch (error) {
      if (error instanceof ServerError && (error.status === undefined || error.status < 500) && error.status !== 429) {
        return err({ kind: 'refused', error: error.errorCode, code: aadstsCode(error), message: describe(error) });
      }
      return err({ kind: 'unavailable', error: error instanceof AuthError ? error.errorCode : 'network_error', message: describe(error) });
    }
    const account = result.account;
    const claims = (result.idTokenClaims ?? {}) as { oid?: string; preferred_username?: string; tid?: string };
    if (account === null || result.accessToken === '') {
      return err({ kind: 'refused', error: 'no_account', message: 'the authority returned no account for the sign-in' });
    }
    const serialized = app.getTokenCache().serialize();
    const { secrets } = this.options;
    return ok({
      tenantId: claims.tid ?? account.tenantId,
      homeAccountId: account.homeAccountId,
      objectId: claims.oid ?? account.localAccountId,
      upn: claims.preferred_username ?? account.username,
      accessToken: result.accessToken,
      persist: async (connectionId: string) => {
        const name = tokenCacheSecretName(connectionId);
        // Merged, not replaced: the account the connection document names until it is rewritten stays usable.
        await secrets.set(name, mergeCaches(await secrets.get(name), serialized));
        this.apps.get(connectionId)?.plugin.reload();
        this.current.delete(connectionId);
        // A consent is the freshest grant there is: it ends a failing refresh streak.
        this.options.onRefresh?.(connectionId, { ok: true });
      },
    });
  }

  async acquireToken(account: ConnectionAccount, options: { readonly forceRefresh?: boolean } = {}): Promise<Result<string, TokenSourceFailure>> {
    const nowMs = this.options.clock.now().getTime();
    const known = this.current.get(account.connectionId);
    if (options.forceRefresh !== true && known !== undefined && known.homeAccountId === account.homeAccountId && known.renewAtMs > nowMs) return ok(known.token);
    this.current.delete(account.connectionId);
    const { app, plugin } = this.appFor(account.connectionId, account.tenantId);
    let failure: TokenSourceFailure | undefined;
    // A refusal may come from a refresh token another host has already rotated: read the stored cache once more and retry.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (attempt > 0) plugin.reload();
      try {
        const cached = await app.getTokenCache().getAccountByHomeId(account.homeAccountId);
        if (cached === null) {
          failure = { kind: 'reauthorization_required', code: 'token_cache_missing', message: 'the token cache holds no account for the connection' };
          continue;
        }
        const result = await app.acquireTokenSilent({ account: cached, scopes: [...graphResourceScopes], forceRefresh: options.forceRefresh === true });
        const expiresAtMs = result.expiresOn?.getTime() ?? nowMs;
        this.current.set(account.connectionId, { homeAccountId: account.homeAccountId, token: result.accessToken, renewAtMs: expiresAtMs - renewalMarginMs });
        if (!result.fromCache) this.options.onRefresh?.(account.connectionId, { ok: true });
        return ok(result.accessToken);
      } catch (error) {
        failure = classifyTokenError(error);
        if (failure.kind === 'transient') break;
      }
    }
    const final = failure ?? { kind: 'transient', message: 'no token' };
    this.options.onRefresh?.(account.connectionId, { ok: false, code: final.kind === 'transient' ? 'transient' : final.code, message: final.message });
    return err(final);
  }

  async forget(connectionId: string): Promise<void> {
    this.apps.delete(connectionId);
    this.current.delete(connectionId);
    await this.options.secrets.delete(tokenCacheSecretName(connectionId));
  }
}
