import type { SandboxSku } from './licensing';
import { createHash } from 'node:crypto';
import type { Clock } from '../../domain/ports/clock';
import { newGroupProps, newUserProps } from './graph-user-properties';
import type { SandboxStore } from './sandbox-store';
import { directoryRoleTemplates, stableGuid, tenantSeeds, type TenantSeed } from './seed';
import { TenantDirectory } from './tenant-directory';

/** A flat copy of an ASCII string: concatenations otherwise keep their parts alive (100,000 users). */
function flat(text: string): string {
  return Buffer.from(text, 'latin1').toString('latin1');
}

/**
 * A refresh token as the sandbox keeps it: only its SHA-256, like a password verifier, so nothing
 * under DATA_DIR can be replayed. Tokens are 96 random bytes: an unsalted hash cannot be reversed.
 */
export interface RefreshTokenRecord {
  readonly hash: string;
  readonly issuedAtMs: number;
  lastUsedAtMs: number;
}

/** A delegated authorization: one consent of one user for the client, with the refresh tokens it produced. */
export interface Grant {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly upn: string;
  readonly clientId: string;
  readonly scopes: string[];
  readonly createdAtMs: number;
  refreshTokens: RefreshTokenRecord[];
  /** Set by revocation: the AADSTS code the next refresh answers with. */
  revoked: { code: number; atMs: number } | undefined;
}

/** Everything the sandbox holds: tenants and grants, loaded from and written through to the store. */
export class SandboxState {
  readonly tenants = new Map<string, TenantDirectory>();
  readonly grants = new Map<string, Grant>();
  private readonly grantByRefreshTokenHash = new Map<string, Grant>();
  /**
   * Plaintext of the refresh tokens issued by this process, by hash, for the /grants control route
   * only; never persisted, so after a restart /grants lists only the tokens issued since.
   */
  private readonly issuedRefreshTokens = new Map<string, string>();
  private readonly metaValues = new Map<string, string>();
  /** Hears every change of a user or group in any tenant (change notifications). */
  onDirectoryChange: ((tenantId: string, collection: 'users' | 'groups', objectId: string) => void) | undefined;

  constructor(
    private readonly store: SandboxStore,
    private readonly clock: Clock,
  ) {
    this.load();
    if (this.tenants.size === 0) this.seedDefaults();
  }

  meta(key: string): string | undefined {
    return this.metaValues.get(key);
  }

  saveMeta(key: string, value: string): void {
    this.metaValues.set(key, value);
    this.store.saveMeta(key, value);
  }

  /** By tenant id, seed name (`contoso`) or any of its domains. */
  tenant(key: string): TenantDirectory | undefined {
    const wanted = key.toLowerCase();
    const direct = this.tenants.get(wanted);
    if (direct) return direct;
    for (const tenant of this.tenants.values()) {
      if (tenant.name === wanted || tenant.domain(wanted)) return tenant;
    }
    return undefined;
  }

  /** The tenant where `domain` is a verified domain. */
  tenantOfDomain(domain: string): TenantDirectory | undefined {
    for (const tenant of this.tenants.values()) {
      if (tenant.domain(domain)?.isVerified) return tenant;
    }
    return undefined;
  }

  reset(): void {
    this.store.clear();
    this.tenants.clear();
    this.grants.clear();
    this.grantByRefreshTokenHash.clear();
    this.issuedRefreshTokens.clear();
    this.seedDefaults();
  }

  /**
   * Adds `count` generated users (`<prefix>{n}@<default domain>`, prefix `sandbox.user`), in one
   * transaction. Tenants whose users are imported side by side need prefixes of their own: the
   * mailNickname becomes the directory username.
   */
  seedUsers(tenant: TenantDirectory, count: number, prefix = 'sandbox.user'): number {
    const domain = tenant.domains.find((d) => d.isDefault)?.id ?? tenant.domains[0]?.id ?? 'example.com';
    const created = new Date(this.clock.now().getTime()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    let next = tenant.userOrder.length;
    let added = 0;
    this.store.transaction(() => {
      while (added < count) {
        next += 1;
        const nickname = flat(`${prefix}${next}`);
        const upn = flat(`${nickname}@${domain}`);
        if (tenant.upnTaken(upn)) continue;
        tenant.createUser(
          newUserProps({
            accountEnabled: true,
            createdDateTime: created,
            displayName: flat(`Sandbox User ${next}`),
            givenName: 'Sandbox',
            surname: flat(`User ${next}`),
            mail: upn,
            mailNickname: nickname,
            preferredLanguage: 'en-US',
            usageLocation: 'US',
            userPrincipalName: upn,
            userType: 'Member',
          }),
          { id: stableGuid(tenant.id, 'user', upn.toLowerCase()), visibleAtMs: 0 },
        );
        added += 1;
      }
    });
    return added;
  }

  /** Records a new grant with its first refresh token. */
  addGrant(grant: Omit<Grant, 'refreshTokens'>, refreshToken: string, nowMs: number): Grant {
    const added: Grant = { ...grant, refreshTokens: [] };
    this.grants.set(added.id, added);
    this.addRefreshToken(added, refreshToken, nowMs);
    return added;
  }

  /** The grant that issued `token`, with the token's record. */
  refreshToken(token: string): { grant: Grant; record: RefreshTokenRecord } | undefined {
    const hash = refreshTokenHash(token);
    const grant = this.grantByRefreshTokenHash.get(hash);
    const record = grant?.refreshTokens.find((rt) => rt.hash === hash);
    return grant && record ? { grant, record } : undefined;
  }

  addRefreshToken(grant: Grant, token: string, nowMs: number): void {
    const hash = refreshTokenHash(token);
    grant.refreshTokens.push({ hash, issuedAtMs: nowMs, lastUsedAtMs: nowMs });
    this.grantByRefreshTokenHash.set(hash, grant);
    this.issuedRefreshTokens.set(hash, token);
    this.persistGrant(grant);
  }

  touchRefreshToken(grant: Grant, record: RefreshTokenRecord, nowMs: number): void {
    record.lastUsedAtMs = nowMs;
    this.persistGrant(grant);
  }

  /** The plaintext of a refresh token this process issued; undefined for one issued before a restart. */
  issuedRefreshToken(record: RefreshTokenRecord): string | undefined {
    return this.issuedRefreshTokens.get(record.hash);
  }

  revokeGrants(tenantId: string, code: number, nowMs: number): number {
    let count = 0;
    for (const grant of this.grants.values()) {
      if (grant.tenantId !== tenantId || grant.revoked) continue;
      grant.revoked = { code, atMs: nowMs };
      this.persistGrant(grant);
      count += 1;
    }
    return count;
  }

  private persistGrant(grant: Grant): void {
    this.store.saveGrant(grant.id, JSON.stringify(grant));
  }

  /**
   * Adds a tenant with one managed, verified custom domain (its default), an initial
   * `<name>.onmicrosoft.com` domain and a Global Administrator `admin@<domain>`. Benchmarks add
   * tenants this way to load several under one app.
   */
  addTenant(name: string, domain: string): TenantDirectory {
    const key = name.toLowerCase();
    const custom = domain.toLowerCase();
    if (this.tenant(key) !== undefined || this.tenantOfDomain(custom) !== undefined) throw new TypeError(`a tenant named ${key} or with the domain ${custom} exists`);
    const id = stableGuid('tenant', key);
    const seed: TenantSeed = {
      id,
      name: key,
      displayName: name,
      createdDateTime: new Date(this.clock.now().getTime()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      domains: [
        { id: custom, authenticationType: 'Managed', isDefault: true, isInitial: false, isVerified: true },
        { id: `${key}.onmicrosoft.com`, authenticationType: 'Managed', isDefault: false, isInitial: true, isVerified: true },
      ],
      users: [{ upn: `admin@${custom}`, givenName: name, surname: 'Admin', jobTitle: 'IT Administrator', roles: [directoryRoleTemplates.globalAdministrator] }],
      groups: [],
    };
    this.store.transaction(() => this.seedTenant(seed));
    return this.tenants.get(id) as TenantDirectory;
  }

  private directory(seed: Pick<TenantSeed, 'id' | 'name' | 'displayName' | 'createdDateTime' | 'domains'> & { skus?: SandboxSku[] }): TenantDirectory {
    return new TenantDirectory(seed, this.store, (collection, objectId) => this.onDirectoryChange?.(seed.id, collection, objectId));
  }

  private seedDefaults(): void {
    this.store.transaction(() => {
      for (const seed of tenantSeeds()) this.seedTenant(seed);
    });
  }

  private seedTenant(seed: TenantSeed): void {
    const tenant = this.directory(seed);
    this.tenants.set(tenant.id, tenant);
    tenant.persistTenant();
    const created = seed.createdDateTime;
    for (const u of seed.users) {
      const upn = u.upn;
      const local = upn.slice(0, upn.indexOf('@'));
      tenant.createUser(
        newUserProps({
          accountEnabled: u.accountEnabled ?? true,
          businessPhones: [],
          createdDateTime: created,
          department: u.department,
          displayName: `${u.givenName} ${u.surname}`,
          givenName: u.givenName,
          jobTitle: u.jobTitle,
          mail: u.hasMailbox === false ? null : upn,
          mailNickname: local.replace(/'/g, ''),
          preferredLanguage: 'en-US',
          surname: u.surname,
          usageLocation: 'US',
          userPrincipalName: upn,
          userType: 'Member',
          ...u.profile,
        }),
        { id: stableGuid(seed.id, 'user', upn.toLowerCase()), roles: [...(u.roles ?? [])], visibleAtMs: 0 },
      );
    }
    for (const u of seed.users) {
      if (!u.managerUpn) continue;
      const user = tenant.findUser(u.upn);
      const manager = tenant.findUser(u.managerUpn);
      if (user && manager) tenant.setManager(user, manager.id);
    }
    for (const g of seed.groups) {
      const group = tenant.createGroup(
        newGroupProps({
          createdDateTime: created,
          description: g.description,
          displayName: g.displayName,
          mailEnabled: false,
          mailNickname: g.mailNickname,
          renewedDateTime: created,
          securityEnabled: true,
          securityIdentifier: `S-1-12-1-${parseInt(stableGuid(seed.id, 'sid', g.mailNickname).slice(0, 8), 16)}`,
        }),
        { id: stableGuid(seed.id, 'group', g.mailNickname), visibleAtMs: 0 },
      );
      for (const upn of g.memberUpns) {
        const member = tenant.findUser(upn);
        if (member) tenant.addMember(group, member.id);
      }
    }
  }

  private load(): void {
    const snapshot = this.store.load();
    for (const stored of snapshot.tenants) {
      const seed = JSON.parse(stored.json) as Pick<TenantSeed, 'id' | 'name' | 'displayName' | 'createdDateTime' | 'domains'> & { skus?: SandboxSku[] };
      this.tenants.set(seed.id, this.directory(seed));
    }
    for (const object of snapshot.objects) {
      const tenant = this.tenants.get(object.tenantId);
      if (!tenant) continue;
      if (object.kind === 'user') tenant.restoreUser(object.json);
      else tenant.restoreGroup(object.json);
    }
    for (const event of snapshot.memberEvents) {
      this.tenants.get(event.tenantId)?.restoreMemberEvent(event.groupId, { seq: event.seq, memberId: event.memberId, removed: event.removed });
    }
    for (const tenant of this.tenants.values()) tenant.finishRestore();
    for (const [key, value] of snapshot.meta) this.metaValues.set(key, value);
    for (const stored of snapshot.grants) {
      const grant = JSON.parse(stored.json) as Grant;
      this.grants.set(grant.id, grant);
      for (const rt of grant.refreshTokens) this.grantByRefreshTokenHash.set(rt.hash, grant);
    }
  }
}

function refreshTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
