import type { Clock } from '../../domain/ports/clock';
import { noFaults, type RequestLog, type SandboxFaults, type ServedRequest } from './graph-endpoint';
import type { GraphThrottler } from './graph-throttling';
import type { LifecycleEvent, SandboxSubscriptions, SubscriptionView } from './graph-subscriptions';
import { sandboxClient, type AuthoritySettings, type SandboxAuthority } from './sandbox-authority';
import { jsonReply, parseJsonBody, type SandboxReply, type SandboxRequest } from './sandbox-http';
import type { SandboxState } from './sandbox-state';
import type { TenantDirectory } from './tenant-directory';

export interface SandboxTenantSummary {
  readonly id: string;
  readonly name: string;
  readonly displayName: string;
  readonly domains: { readonly id: string; readonly authenticationType: string; readonly isVerified: boolean; readonly isDefault: boolean; readonly isInitial: boolean }[];
  readonly userCount: number;
  readonly groupCount: number;
}

export interface SandboxGrantView {
  readonly id: string;
  readonly userId: string;
  readonly upn: string;
  readonly clientId: string;
  readonly scopes: string[];
  readonly createdAt: string;
  readonly revoked: { readonly code: number; readonly at: string } | null;
  /**
   * The refresh tokens issued under the grant, so tests can prove none leaks elsewhere. The sandbox
   * keeps only their hashes at rest: after a restart this lists only the tokens issued since.
   */
  readonly refreshTokens: { readonly token: string; readonly issuedAt: string; readonly lastUsedAt: string }[];
}

/** How a revocation makes the next refresh fail (the AADSTS code `invalid_grant` carries). */
export type RevocationReason = 'revoked' | 'consent' | 'expired' | 'disabled';

const revocationCodes: Readonly<Record<RevocationReason, number>> = { revoked: 50173, consent: 65001, expired: 700082, disabled: 50057 };

/** Thrown for a control call that names something the sandbox does not have. */
export class SandboxControlError extends Error {
  constructor(
    readonly code: 'TENANT_NOT_FOUND' | 'USER_NOT_FOUND' | 'INVALID_ARGUMENT',
    message: string,
  ) {
    super(message);
    this.name = 'SandboxControlError';
  }
}

/** The test-only control surface, in process and over HTTP under /_sandbox. */
export class SandboxControl {
  private currentFaults: SandboxFaults = noFaults();

  constructor(
    private readonly state: SandboxState,
    private readonly authority: SandboxAuthority,
    private readonly throttler: GraphThrottler,
    private readonly log: RequestLog,
    private readonly clock: Clock,
    private readonly subscriptions: SandboxSubscriptions,
  ) {}

  /** Adds a tenant (see SandboxState.addTenant): `admin@<domain>` is its Global Administrator. */
  addTenant(name: string, domain: string): SandboxTenantSummary {
    if (!/^[a-z][a-z0-9-]{1,38}$/i.test(name)) throw new SandboxControlError('INVALID_ARGUMENT', 'name must be 2-39 letters, digits or dashes, starting with a letter');
    if (!/^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i.test(domain)) throw new SandboxControlError('INVALID_ARGUMENT', 'domain must be a domain name such as example.com');
    let id: string;
    try {
      id = this.state.addTenant(name, domain).id;
    } catch (error) {
      throw new SandboxControlError('INVALID_ARGUMENT', (error as Error).message);
    }
    return this.tenants().find((t) => t.id === id) as SandboxTenantSummary;
  }

  /** Every live change notification subscription, of every tenant. */
  listSubscriptions(): SubscriptionView[] {
    return this.subscriptions.list();
  }

  /** Sends a lifecycle event for a subscription now (`subscriptionRemoved` also removes it). */
  sendLifecycleEvent(subscriptionId: string, event: LifecycleEvent): void {
    if (!['reauthorizationRequired', 'subscriptionRemoved', 'missed'].includes(event)) throw new SandboxControlError('INVALID_ARGUMENT', 'event must be reauthorizationRequired, subscriptionRemoved or missed');
    if (!this.subscriptions.lifecycle(subscriptionId, event)) throw new SandboxControlError('TENANT_NOT_FOUND', `No subscription '${subscriptionId}'`);
  }

  tenants(): SandboxTenantSummary[] {
    return [...this.state.tenants.values()].map((t) => ({
      id: t.id,
      name: t.name,
      displayName: t.displayName,
      domains: t.domains.map((d) => ({ id: d.id, authenticationType: d.authenticationType, isVerified: d.isVerified, isDefault: d.isDefault, isInitial: d.isInitial })),
      userCount: t.liveUserCount,
      groupCount: [...t.groups.values()].filter((g) => g.deletedSeq === undefined).length,
    }));
  }

  /** Adds `count` generated users to a tenant in one transaction (benchmarks seed 100,000). */
  seedUsers(tenantKey: string, count: number, prefix?: string): number {
    if (!Number.isInteger(count) || count < 1 || count > 1_000_000) throw new SandboxControlError('INVALID_ARGUMENT', 'count must be an integer from 1 to 1000000');
    if (prefix !== undefined && !/^[a-z][a-z0-9.]{0,30}$/.test(prefix)) throw new SandboxControlError('INVALID_ARGUMENT', 'prefix must be up to 31 lower-case letters, digits or dots, starting with a letter');
    return this.state.seedUsers(this.tenant(tenantKey), count, prefix);
  }

  /**
   * A Graph access token for `upn`, with every permission the sandbox app has. It belongs to no
   * grant, so revoking the tenant's grants does not end it: it lives until it expires.
   */
  issueToken(tenantKey: string, upn: string, scopes: readonly string[] = sandboxClient.configuredPermissions, clientId: string = sandboxClient.clientId): { access_token: string; token_type: 'Bearer'; expires_in: number } {
    const tenant = this.tenant(tenantKey);
    const user = tenant.findUser(upn);
    if (!user) throw new SandboxControlError('USER_NOT_FOUND', `No user '${upn}' in tenant ${tenant.id}`);
    const { token, expiresInSec } = this.authority.issueAccessToken(tenant, user, clientId, [...scopes]);
    return { access_token: token, token_type: 'Bearer', expires_in: expiresInSec };
  }

  /** Buys or cancels seats: the SKU's `prepaidUnits.enabled` becomes `enabled`. */
  setSeats(tenantKey: string, skuPartNumber: string, enabled: number): { skuId: string; skuPartNumber: string; enabled: number; consumed: number } {
    const tenant = this.tenant(tenantKey);
    const sku = tenant.skus.find((s) => s.skuPartNumber.toLowerCase() === skuPartNumber.toLowerCase());
    if (!sku) throw new SandboxControlError('INVALID_ARGUMENT', `tenant ${tenant.id} has no SKU ${skuPartNumber} (${tenant.skus.map((s) => s.skuPartNumber).join(', ')})`);
    if (!Number.isInteger(enabled) || enabled < 0 || enabled > 1_000_000) throw new SandboxControlError('INVALID_ARGUMENT', 'enabled must be an integer from 0 to 1000000');
    sku.enabled = enabled;
    tenant.persistTenant();
    return { skuId: sku.skuId, skuPartNumber: sku.skuPartNumber, enabled, consumed: tenant.consumedUnits(sku.skuId) };
  }

  grants(tenantKey: string): SandboxGrantView[] {
    const tenant = this.tenant(tenantKey);
    return [...this.state.grants.values()]
      .filter((g) => g.tenantId === tenant.id)
      .map((g) => ({
        id: g.id,
        userId: g.userId,
        upn: g.upn,
        clientId: g.clientId,
        scopes: g.scopes,
        createdAt: new Date(g.createdAtMs).toISOString(),
        revoked: g.revoked ? { code: g.revoked.code, at: new Date(g.revoked.atMs).toISOString() } : null,
        refreshTokens: g.refreshTokens.flatMap((rt) => {
          const token = this.state.issuedRefreshToken(rt);
          return token === undefined ? [] : [{ token, issuedAt: new Date(rt.issuedAtMs).toISOString(), lastUsedAt: new Date(rt.lastUsedAtMs).toISOString() }];
        }),
      }));
  }

  /**
   * Revokes every grant of the tenant: Graph refuses their access tokens from now on (a continuous
   * access evaluation challenge) and the next refresh fails with the reason's AADSTS code.
   */
  revoke(tenantKey: string, reason: RevocationReason = 'revoked'): number {
    const code = revocationCodes[reason];
    if (code === undefined) throw new SandboxControlError('INVALID_ARGUMENT', `reason must be one of ${Object.keys(revocationCodes).join(', ')}`);
    return this.state.revokeGrants(this.tenant(tenantKey).id, code, this.clock.now().getTime());
  }

  faults(): SandboxFaults {
    return this.currentFaults;
  }

  setFaults(faults: { rates?: Partial<SandboxFaults['rates']>; latencyMs?: number; replicationLagMs?: number; throttling?: boolean }): SandboxFaults {
    const rates = { ...this.currentFaults.rates, ...faults.rates };
    for (const [name, rate] of Object.entries(rates)) {
      if (typeof rate !== 'number' || rate < 0 || rate > 1) throw new SandboxControlError('INVALID_ARGUMENT', `rates.${name} must be a number from 0 to 1`);
    }
    const latencyMs = faults.latencyMs ?? this.currentFaults.latencyMs;
    const replicationLagMs = faults.replicationLagMs ?? this.currentFaults.replicationLagMs;
    if (typeof latencyMs !== 'number' || latencyMs < 0 || typeof replicationLagMs !== 'number' || replicationLagMs < 0) {
      throw new SandboxControlError('INVALID_ARGUMENT', 'latencyMs and replicationLagMs must be non-negative numbers');
    }
    this.currentFaults = { rates, latencyMs, replicationLagMs };
    if (faults.throttling !== undefined) this.setThrottling(faults.throttling);
    return this.currentFaults;
  }

  /** Throttling by the documented budgets is on unless turned off here. */
  setThrottling(on: boolean): void {
    this.throttler.enabled = on;
    this.throttler.reset();
  }

  get throttling(): boolean {
    return this.throttler.enabled;
  }

  requests(since?: number | Date): ServedRequest[] {
    return this.log.since(since);
  }

  configure(settings: Partial<AuthoritySettings>): AuthoritySettings {
    for (const [name, value] of Object.entries(settings)) {
      if (!(name in this.authority.settings) || typeof value !== 'number' || !(value > 0)) throw new SandboxControlError('INVALID_ARGUMENT', `${name} must be a known positive number of seconds`);
    }
    Object.assign(this.authority.settings, settings);
    return { ...this.authority.settings };
  }

  /** Back to the seeded tenants, no grants, no faults, throttling on, empty request log. */
  reset(): void {
    this.state.reset();
    this.subscriptions.reset();
    this.authority.clearCaches();
    this.currentFaults = noFaults();
    this.setThrottling(true);
    this.log.clear();
  }

  /** The HTTP face of the control API (DESIGN.md, "The sandbox tenant"). */
  handle(req: SandboxRequest): SandboxReply {
    try {
      return this.route(req);
    } catch (error) {
      if (error instanceof SandboxControlError) return jsonReply(error.code === 'INVALID_ARGUMENT' ? 400 : 404, { error: { code: error.code, message: error.message } });
      throw error;
    }
  }

  private route(req: SandboxRequest): SandboxReply {
    const segments = req.path.split('/').filter((s) => s !== '').slice(1).map(decodeURIComponent);
    const parsed = parseJsonBody(req.bodyText);
    if (!parsed.ok) throw new SandboxControlError('INVALID_ARGUMENT', 'body must be JSON');
    const body = (typeof parsed.value === 'object' && parsed.value !== null ? parsed.value : {}) as Record<string, unknown>;
    const [first, tenantKey, action] = segments;
    const m = req.method;
    if (first === 'health' && m === 'GET') return jsonReply(200, { status: 'ok' });
    if (first === 'tenants' && tenantKey === undefined && m === 'GET') return jsonReply(200, this.tenants());
    if (first === 'tenants' && tenantKey === undefined && m === 'POST') return jsonReply(201, this.addTenant(String(body.name ?? ''), String(body.domain ?? '')));
    if (first === 'subscriptions' && tenantKey === undefined && m === 'GET') return jsonReply(200, { value: this.listSubscriptions() });
    if (first === 'subscriptions' && tenantKey !== undefined && action === 'lifecycle' && m === 'POST') {
      this.sendLifecycleEvent(tenantKey, body.event as LifecycleEvent);
      return { status: 204, headers: {}, body: '' };
    }
    if (first === 'tenants' && tenantKey !== undefined && segments.length === 3) {
      if (action === 'tokens' && m === 'POST') {
        if (typeof body.upn !== 'string') throw new SandboxControlError('INVALID_ARGUMENT', 'upn is required');
        const scopes = Array.isArray(body.scopes) ? body.scopes.map(String) : undefined;
        // Another app (an admin centre, a script) has its own throttling budgets.
        const clientId = typeof body.clientId === 'string' && body.clientId !== '' ? body.clientId : undefined;
        return jsonReply(200, this.issueToken(tenantKey, body.upn, scopes, clientId));
      }
      if (action === 'grants' && m === 'GET') return jsonReply(200, this.grants(tenantKey));
      if (action === 'skus' && m === 'POST') return jsonReply(200, this.setSeats(tenantKey, String(body.skuPartNumber ?? ''), Number(body.enabled)));
      if (action === 'revoke' && m === 'POST') return jsonReply(200, { revoked: this.revoke(tenantKey, (body.reason as RevocationReason | undefined) ?? 'revoked') });
      if (action === 'users:seed' && m === 'POST') return jsonReply(200, { added: this.seedUsers(tenantKey, Number(body.count), typeof body.prefix === 'string' ? body.prefix : undefined) });
    }
    if (first === 'faults' && segments.length === 1) {
      if (m === 'GET') return jsonReply(200, { ...this.faults(), throttling: this.throttling });
      if (m === 'POST') return jsonReply(200, { ...this.setFaults(body as Parameters<SandboxControl['setFaults']>[0]), throttling: this.throttling });
    }
    if (first === 'requests' && segments.length === 1 && m === 'GET') {
      const since = req.query.get('since');
      const value = since === null || since === '' ? this.requests() : /^\d+$/.test(since) ? this.requests(Number(since)) : this.requests(new Date(since));
      return jsonReply(200, { value, lastSeq: this.log.lastSeq });
    }
    if (first === 'settings' && segments.length === 1) {
      if (m === 'GET') return jsonReply(200, { ...this.authority.settings });
      if (m === 'POST') return jsonReply(200, this.configure(body as Partial<AuthoritySettings>));
    }
    if (first === 'reset' && segments.length === 1 && m === 'POST') {
      this.reset();
      return { status: 204, headers: {}, body: '' };
    }
    return jsonReply(404, { error: { code: 'NOT_FOUND', message: `No control route ${m} ${req.path}` } });
  }

  private tenant(key: string): TenantDirectory {
    const tenant = this.state.tenant(key);
    if (!tenant) throw new SandboxControlError('TENANT_NOT_FOUND', `No tenant '${key}'`);
    return tenant;
  }
}
