import type { Result } from '../result';

/** A domain of the tenant, as Graph's `domain` resource describes it. */
export interface TenantDomain {
  /** The domain name, lower case. */
  readonly id: string;
  readonly isVerified: boolean;
  readonly isInitial: boolean;
  readonly isDefault: boolean;
  /** `Managed` or `Federated`. */
  readonly authenticationType: string;
  /** The federation configurations of a `Federated` domain (Graph `internalDomainFederation`); empty otherwise. */
  readonly federation: readonly DomainFederation[];
}

export interface DomainFederation {
  readonly issuerUri?: string;
  readonly passiveSignInUri?: string;
  readonly activeSignInUri?: string;
  readonly metadataExchangeUri?: string;
  readonly signOutUri?: string;
}

/** What consent needs to know about the tenant and the account that signed in. */
export interface TenantFacts {
  readonly tenantId: string;
  readonly tenantName: string;
  readonly account: { readonly objectId: string; readonly upn: string };
  /** roleTemplateId of every directory role the account holds, directly or through groups. */
  readonly roleTemplateIds: readonly string[];
  readonly domains: readonly TenantDomain[];
}

/** Microsoft 365 could not answer: `unavailable` may pass on retry, `forbidden` will not. */
export interface TenantReadFailure {
  readonly code: 'unavailable' | 'forbidden' | 'reauthorization_required';
  readonly message: string;
}

/** Reads tenant facts from Microsoft Graph (read-only calls). */
export interface TenantReader {
  /** With the delegated access token just obtained at consent. */
  readConsentFacts(accessToken: string): Promise<Result<TenantFacts, TenantReadFailure>>;
  /** With the connection's own tokens. */
  readDomains(connectionId: string): Promise<Result<TenantDomain[], TenantReadFailure>>;
}
