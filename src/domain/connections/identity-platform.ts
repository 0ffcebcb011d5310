import type { Result } from '../result';

/** A PKCE pair (RFC 7636, S256). The verifier is a secret until the code is redeemed. */
export interface PkcePair {
  readonly verifier: string;
  readonly challenge: string;
}

/**
 * The outcome of redeeming an authorization code. The tokens stay inside the identity platform;
 * `persist` writes them to the connection's token cache once the consent has been accepted, so a
 * refused consent leaves nothing behind.
 */
export interface ConsentGrant {
  readonly tenantId: string;
  /** msal's key of the signed-in account in the token cache. */
  readonly homeAccountId: string;
  readonly objectId: string;
  readonly upn: string;
  /** A delegated Graph token for the checks consent makes before accepting. Never stored. */
  readonly accessToken: string;
  persist(connectionId: string): Promise<void>;
}

/** The authority refused or failed: `error` is the OAuth error (`invalid_grant`...), `code` its AADSTS code when known. */
export interface AuthorityFailure {
  readonly kind: 'refused' | 'unavailable';
  readonly error: string;
  readonly code?: string;
  readonly message: string;
}

/** Why a token could not be had for a connection. */
export type TokenSourceFailure =
  /** The grant is gone (invalid_grant family, interaction required, or no cached account): a Global Administrator must consent again. */
  | { readonly kind: 'reauthorization_required'; readonly code: string; readonly message: string }
  /** The token endpoint failed in a way a later attempt may not. */
  | { readonly kind: 'transient'; readonly message: string };

/** The account whose cached tokens serve a connection. */
export interface ConnectionAccount {
  readonly connectionId: string;
  readonly tenantId: string;
  readonly homeAccountId: string;
}

/** Microsoft's identity platform, through msal-node: consent URLs, code redemption, cached tokens. */
export interface IdentityPlatform {
  createPkce(): Promise<PkcePair>;
  /** The authorization URL a Global Administrator opens to consent. */
  authorizationUrl(request: { readonly state: string; readonly codeChallenge: string }): Promise<string>;
  redeemCode(request: { readonly code: string; readonly codeVerifier: string }): Promise<Result<ConsentGrant, AuthorityFailure>>;
  /** An access token for Graph from the connection's cache; msal refreshes (and rotates) as needed. */
  acquireToken(account: ConnectionAccount, options?: { readonly forceRefresh?: boolean }): Promise<Result<string, TokenSourceFailure>>;
  /** Deletes the connection's token cache. Idempotent. */
  forget(connectionId: string): Promise<void>;
}
