import type { TenantDomain } from '../../../src/domain/connections/tenant-reader';
import { globalAdministratorRoleTemplateId, goDaddyEvidence, isGlobalAdministrator, selectDomains } from '../../../src/domain/connections/tenant-rules';

function domain(id: string, overrides: Partial<TenantDomain> = {}): TenantDomain {
  return { id, isVerified: true, isInitial: false, isDefault: false, authenticationType: 'Managed', federation: [], ...overrides };
}

const contosoDomains = [domain('contoso.com', { isDefault: true }), domain('contoso.onmicrosoft.com', { isInitial: true }), domain('contoso.org', { isVerified: false }), domain('partner.contoso.net', { authenticationType: 'Federated', federation: [{ issuerUri: 'http://sts.contoso.net/adfs/services/trust' }] })];

describe('Global Administrator check', () => {
  it('recognises the role template id in any case, among others', () => {
    expect(isGlobalAdministrator(['729827e3-9c14-49f7-bb1b-9608f156bbb8', globalAdministratorRoleTemplateId.toUpperCase()])).toBe(true);
  });

  it('refuses other roles and no role', () => {
    expect(isGlobalAdministrator(['729827e3-9c14-49f7-bb1b-9608f156bbb8', 'fe930be7-5e62-47db-91af-98c3a49a38b1'])).toBe(false);
    expect(isGlobalAdministrator([])).toBe(false);
  });
});

describe('GoDaddy detection', () => {
  it('detects the NETORG initial domain', () => {
    expect(goDaddyEvidence([domain('shop.com'), domain('NETORGFT1234567.onmicrosoft.com', { isInitial: true })])).toMatch(/initial domain NETORGFT1234567/);
  });

  it.each([
    ['issuerUri', { issuerUri: 'urn:uri:sso.godaddy.com:northwindshop.com' }],
    ['passiveSignInUri', { passiveSignInUri: 'https://sso.secureserver.net/federation/wsfed' }],
    ['metadataExchangeUri', { metadataExchangeUri: 'https://sso.secureserver.net/federation/mex' }],
  ])('detects a custom domain federated to GoDaddy (%s)', (_field, federation) => {
    const domains = [domain('northwindshop.com', { authenticationType: 'Federated', federation: [federation] }), domain('northwind.onmicrosoft.com', { isInitial: true })];
    expect(goDaddyEvidence(domains)).toMatch(/northwindshop\.com is federated to GoDaddy/);
  });

  it('leaves tenants federated elsewhere, and a GoDaddy-looking name that is not federated, alone', () => {
    expect(goDaddyEvidence(contosoDomains)).toBeUndefined();
    expect(goDaddyEvidence([domain('mygodaddy.com'), domain('netorgless.com'), domain('x.onmicrosoft.com', { isInitial: true })])).toBeUndefined();
    expect(goDaddyEvidence([domain('a.com', { authenticationType: 'Federated', federation: [{ issuerUri: 'https://notgodaddy.company.example/adfs' }] })])).toBeUndefined();
  });
});

describe('domain selection', () => {
  it('claims, unasked, the verified managed custom domains nobody else holds', () => {
    expect(selectDomains([], contosoDomains, new Set())).toEqual({ ok: true, value: ['contoso.com'] });
    const more = [...contosoDomains, domain('contoso.de'), domain('contoso.fr')];
    expect(selectDomains([], more, new Set(['contoso.de']))).toEqual({ ok: true, value: ['contoso.com', 'contoso.fr'] });
  });

  it('refuses when no custom domain is left to claim', () => {
    expect(selectDomains([], contosoDomains, new Set(['contoso.com']))).toEqual({ ok: false, error: { code: 'no_claimable_domains' } });
  });

  it('takes requested domains that are verified and managed, even the initial one', () => {
    expect(selectDomains(['contoso.com', 'contoso.onmicrosoft.com'], contosoDomains, new Set())).toEqual({ ok: true, value: ['contoso.com', 'contoso.onmicrosoft.com'] });
  });

  it('refuses a requested domain that is unverified, unknown or federated', () => {
    expect(selectDomains(['contoso.org'], contosoDomains, new Set())).toEqual({ ok: false, error: { code: 'domain_not_verified', domain: 'contoso.org' } });
    expect(selectDomains(['fabrikam.com'], contosoDomains, new Set())).toEqual({ ok: false, error: { code: 'domain_not_verified', domain: 'fabrikam.com' } });
    expect(selectDomains(['partner.contoso.net'], contosoDomains, new Set())).toEqual({ ok: false, error: { code: 'domain_not_managed', domain: 'partner.contoso.net' } });
  });
});
