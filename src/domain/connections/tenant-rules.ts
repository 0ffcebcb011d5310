import { err, ok, type Result } from '../result';
import type { TenantDomain } from './tenant-reader';

/** Entra's built-in Global Administrator role; template ids are the same in every tenant. */
export const globalAdministratorRoleTemplateId = '62e90394-69f5-4237-9190-012177145e10';

export function isGlobalAdministrator(roleTemplateIds: readonly string[]): boolean {
  return roleTemplateIds.some((id) => id.toLowerCase() === globalAdministratorRoleTemplateId);
}

// GoDaddy provisions its Microsoft 365 tenants with an initial domain NETORG<digits/letters>.onmicrosoft.com
// and federates their custom domains to its own sign-in service (sso.godaddy.com / secureserver.net).
const goDaddyInitialDomain = /^netorg[a-z0-9]*\.onmicrosoft\.com$/i;
const goDaddyFederationHost = /(^|[^a-z0-9-])(godaddy\.com|secureserver\.net)($|[^a-z0-9-])/i;

/** The reason a tenant is GoDaddy-operated, or undefined when nothing suggests it. */
export function goDaddyEvidence(domains: readonly TenantDomain[]): string | undefined {
  const initial = domains.find((d) => d.isInitial && goDaddyInitialDomain.test(d.id));
  if (initial !== undefined) return `its initial domain ${initial.id} is one GoDaddy assigns`;
  for (const domain of domains) {
    if (domain.authenticationType.toLowerCase() !== 'federated') continue;
    for (const federation of domain.federation) {
      const uris = [federation.issuerUri, federation.passiveSignInUri, federation.activeSignInUri, federation.metadataExchangeUri, federation.signOutUri];
      if (uris.some((uri) => uri !== undefined && goDaddyFederationHost.test(uri))) return `its domain ${domain.id} is federated to GoDaddy`;
    }
  }
  return undefined;
}

/** A domain a connection may claim on its own: verified, managed, and not the tenant's `*.onmicrosoft.com`. */
export function isClaimableCustomDomain(domain: TenantDomain): boolean {
  return domain.isVerified && !domain.isInitial && domain.authenticationType.toLowerCase() === 'managed' && !domain.id.endsWith('.onmicrosoft.com');
}

export type DomainRefusal =
  | { readonly code: 'domain_not_verified'; readonly domain: string }
  | { readonly code: 'domain_not_managed'; readonly domain: string }
  | { readonly code: 'no_claimable_domains' };

/**
 * The domains a connection will claim. Requested domains must be verified and managed in the tenant
 * (users of a federated domain sign in elsewhere, so their passwords cannot be set). With none
 * requested, the tenant's claimable custom domains that no other connection holds.
 */
export function selectDomains(requested: readonly string[], tenantDomains: readonly TenantDomain[], heldElsewhere: ReadonlySet<string>): Result<string[], DomainRefusal> {
  const byName = new Map(tenantDomains.map((d) => [d.id.toLowerCase(), d]));
  if (requested.length > 0) {
    for (const name of requested) {
      const domain = byName.get(name);
      if (domain === undefined || !domain.isVerified) return err({ code: 'domain_not_verified', domain: name });
      if (domain.authenticationType.toLowerCase() !== 'managed') return err({ code: 'domain_not_managed', domain: name });
    }
    return ok([...requested]);
  }
  const chosen = tenantDomains
    .filter(isClaimableCustomDomain)
    .map((d) => d.id.toLowerCase())
    .filter((name) => !heldElsewhere.has(name))
    .sort();
  return chosen.length > 0 ? ok(chosen) : err({ code: 'no_claimable_domains' });
}
