import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import type { ConnectionDeps } from '../../../src/domain/connections/connection-deps';
import type { AuthorityFailure, ConnectionAccount, ConsentGrant, IdentityPlatform, PkcePair, TokenSourceFailure } from '../../../src/domain/connections/identity-platform';
import type { TenantDomain, TenantFacts, TenantReader, TenantReadFailure } from '../../../src/domain/connections/tenant-reader';
import { globalAdministratorRoleTemplateId } from '../../../src/domain/connections/tenant-rules';
import type { Clock } from '../../../src/domain/ports/clock';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import type { LogFields, Logger } from '../../../src/domain/ports/logger';
import type { SecretStore } from '../../../src/domain/ports/secret-store';
import { err, ok, type Result } from '../../../src/domain/result';
import { ManualClock } from '../../support/manual-clock';


export class MemorySecrets implements SecretStore {
  readonly values = new Map<string, { value: string; expiresAtMs?: number }>();
  constructor(private readonly clock: Clock) {}
  async get(name: string): Promise<string | undefined> {
    const entry = this.values.get(name);
    return entry === undefined || (entry.expiresAtMs !== undefined && entry.expiresAtMs <= this.clock.now().getTime()) ? undefined : entry.value;
  }
  async set(name: string, value: string, options?: { expiresAt?: Date }): Promise<void> {
    this.values.set(name, { value, ...(options?.expiresAt === undefined ? {} : { expiresAtMs: options.expiresAt.getTime() }) });
  }
  async delete(name: string): Promise<void> {
    this.values.delete(name);
  }
  async ping(): Promise<void> {}
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
}

export class RecordingLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly base: LogFields = {},
  ) {}
  debug(message: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'debug', message, fields: { ...this.base, ...fields } });
  }
  info(message: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'info', message, fields: { ...this.base, ...fields } });
  }
  warn(message: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'warn', message, fields: { ...this.base, ...fields } });
  }
  error(message: string, fields: LogFields = {}): void {
    this.lines.push({ level: 'error', message, fields: { ...this.base, ...fields } });
  }
  child(fields: LogFields): Logger {
    return new RecordingLogger(this.lines, { ...this.base, ...fields });
  }
}

/** Who signs in with an authorization code, or how the authority refuses it. */
export type CodeOutcome = { readonly tenantId: string; readonly objectId: string; readonly upn: string } | AuthorityFailure;

/** The identity platform as consent sees it: codes map to sign-ins; tokens come from `tokenOutcome`. */
export class FakeIdentityPlatform implements IdentityPlatform {
  readonly codes = new Map<string, CodeOutcome>();
  /** connection id -> the home account ids persisted into its token cache, in order. */
  readonly caches = new Map<string, string[]>();
  readonly redeemed: { code: string; codeVerifier: string }[] = [];
  readonly tokenRequests: { account: ConnectionAccount; forceRefresh: boolean }[] = [];
  tokenOutcome: Result<string, TokenSourceFailure> = ok('access-token');
  /** Runs inside `persist`, before the cache is written (to fail it, or to race it). */
  onPersist: (connectionId: string) => Promise<void> = async () => undefined;
  private next = 0;

  async createPkce(): Promise<PkcePair> {
    this.next += 1;
    return { verifier: `verifier-${this.next}`, challenge: `challenge-${this.next}` };
  }

  async authorizationUrl(request: { readonly state: string; readonly codeChallenge: string }): Promise<string> {
    return `https://login.example/organizations/oauth2/v2.0/authorize?state=${encodeURIComponent(request.state)}&code_challenge=${request.codeChallenge}`;
  }

  async redeemCode(request: { readonly code: string; readonly codeVerifier: string }): Promise<Result<ConsentGrant, AuthorityFailure>> {
    this.redeemed.push(request);
    const outcome = this.codes.get(request.code);
    if (outcome === undefined) return err({ kind: 'refused', error: 'invalid_grant', code: 'AADSTS70000', message: "AADSTS70000: The provided value for the 'code' parameter is not valid." });
    if ('kind' in outcome) return err(outcome);
    const homeAccountId = `${outcome.objectId}.${outcome.tenantId}`;
    return ok({
      ...outcome,
      homeAccountId,
      accessToken: `token-for:${outcome.upn}`,
      persist: async (connectionId: string) => {
        await this.onPersist(connectionId);
        this.caches.set(connectionId, [...(this.caches.get(connectionId) ?? []), homeAccountId]);
      },
    });
  }

  async acquireToken(account: ConnectionAccount, options: { readonly forceRefresh?: boolean } = {}): Promise<Result<string, TokenSourceFailure>> {
    this.tokenRequests.push({ account, forceRefresh: options.forceRefresh === true });
    return this.tokenOutcome;
  }

  async forget(connectionId: string): Promise<void> {
    this.caches.delete(connectionId);
  }
}

export function tenantDomain(id: string, overrides: Partial<TenantDomain> = {}): TenantDomain {
  return { id, isVerified: true, isInitial: false, isDefault: false, authenticationType: 'Managed', federation: [], ...overrides };
}

/** Three tenants shaped like the sandbox's, and their people. */
export const tenants = {
  contoso: {
    tenantId: 'contoso-tenant-id',
    tenantName: 'Contoso',
    domains: [tenantDomain('contoso.com', { isDefault: true }), tenantDomain('contoso.onmicrosoft.com', { isInitial: true }), tenantDomain('contoso.org', { isVerified: false })],
  },
  fabrikam: {
    tenantId: 'fabrikam-tenant-id',
    tenantName: 'Fabrikam',
    domains: [tenantDomain('fabrikam.com', { isDefault: true }), tenantDomain('fabrikam.onmicrosoft.com', { isInitial: true })],
  },
  northwind: {
    tenantId: 'northwind-tenant-id',
    tenantName: 'Northwind Shop',
    domains: [
      tenantDomain('northwindshop.com', { isDefault: true, authenticationType: 'Federated', federation: [{ issuerUri: 'urn:uri:sso.godaddy.com:northwindshop.com', passiveSignInUri: 'https://sso.secureserver.net/federation/wsfed' }] }),
      tenantDomain('netorgft1234567.onmicrosoft.com', { isInitial: true }),
    ],
  },
} as const;

export const people = {
  contosoAdmin: { tenant: tenants.contoso, objectId: 'contoso-admin', upn: 'admin@contoso.com', roles: [globalAdministratorRoleTemplateId] },
  contosoHelpdesk: { tenant: tenants.contoso, objectId: 'contoso-helpdesk', upn: 'helpdesk@contoso.com', roles: ['729827e3-9c14-49f7-bb1b-9608f156bbb8'] },
  contosoSecondAdmin: { tenant: tenants.contoso, objectId: 'contoso-admin-2', upn: 'it@contoso.com', roles: [globalAdministratorRoleTemplateId] },
  fabrikamAdmin: { tenant: tenants.fabrikam, objectId: 'fabrikam-admin', upn: 'admin@fabrikam.com', roles: [globalAdministratorRoleTemplateId] },
  northwindAdmin: { tenant: tenants.northwind, objectId: 'northwind-admin', upn: 'admin@northwindshop.com', roles: [globalAdministratorRoleTemplateId] },
} as const;

export type Person = (typeof people)[keyof typeof people];

/** Tenant facts keyed by the access tokens the fake identity platform hands out. */
export class FakeTenantReader implements TenantReader {
  readonly facts = new Map<string, TenantFacts>();
  readonly domainsOf = new Map<string, Result<TenantDomain[], TenantReadFailure>>();
  readonly domainReads: string[] = [];

  add(person: Person): void {
    this.facts.set(`token-for:${person.upn}`, {
      tenantId: person.tenant.tenantId,
      tenantName: person.tenant.tenantName,
      account: { objectId: person.objectId, upn: person.upn },
      roleTemplateIds: person.roles,
      domains: person.tenant.domains,
    });
  }

  async readConsentFacts(accessToken: string): Promise<Result<TenantFacts, TenantReadFailure>> {
    const facts = this.facts.get(accessToken);
    return facts === undefined ? err({ code: 'forbidden', message: 'Graph 403 Authorization_RequestDenied' }) : ok(facts);
  }

  async readDomains(connectionId: string): Promise<Result<TenantDomain[], TenantReadFailure>> {
    this.domainReads.push(connectionId);
    return this.domainsOf.get(connectionId) ?? err({ code: 'unavailable', message: 'not configured' });
  }
}

export interface ConnectionsHarness {
  readonly deps: ConnectionDeps & { readonly clock: ManualClock; readonly secrets: MemorySecrets; readonly logger: RecordingLogger; readonly identity: FakeIdentityPlatform; readonly tenants: FakeTenantReader };
  readonly store: DocumentStore;
  close(): Promise<void>;
}

export function startConnectionsHarness(): ConnectionsHarness {
  const clock = new ManualClock(Date.parse('2026-02-02T09:00:00.000Z'));
  const db = openDatabase(':memory:');
  const store = new SqliteDocumentStore(db, { clock });
  const reader = new FakeTenantReader();
  for (const person of Object.values(people)) reader.add(person);
  const deps = { store, clock, secrets: new MemorySecrets(clock), logger: new RecordingLogger(), identity: new FakeIdentityPlatform(), tenants: reader };
  return {
    deps,
    store,
    async close() {
      await store.close();
      db.close();
    },
  };
}

/** The state parameter a consent URL carries. */
export function stateOf(consentUrl: string): string {
  const state = new URL(consentUrl).searchParams.get('state');
  if (state === null) throw new Error(`no state in ${consentUrl}`);
  return state;
}

export function expectOk<T, E>(result: Result<T, E>): T {
  if (!result.ok) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

export function expectErr<T, E>(result: Result<T, E>): E {
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}
