/**
 * Identity and access throttling as Microsoft documents it (concepts/throttling-limits.md,
 * "Identity and access service limits"): per application+tenant pair, a resource-unit budget per
 * 10 seconds by tenant size (S < 50 users: 3,500; M 50-500: 5,000; L > 500: 8,000) and a write
 * budget of 3,000 per 2 minutes 30 seconds; per application across all tenants, 35,000 writes per
 * 5 minutes; per tenant across all applications, 18,000 writes per 5 minutes. Windows divide by the
 * time scale.
 */
export interface ThrottleDecision {
  readonly allowed: boolean;
  /** Seconds to wait, as `Retry-After` carries it. */
  readonly retryAfterSec?: number;
  readonly limit?: 'ReadWrite' | 'Write';
  /** Which budget was spent: the application in this tenant, the application everywhere, or the tenant. */
  readonly scope?: 'Tenant_Application' | 'Application' | 'Tenant';
  readonly information?: 'ResourceUnitLimitExceeded' | 'WriteLimitExceeded';
  /** Use of the resource-unit budget, 0.8 and above reported as x-ms-throttle-limit-percentage. */
  readonly usedFraction: number;
}

interface Window {
  startMs: number;
  used: number;
}

const resourceUnitWindowMs = 10_000;
const writeWindowMs = 150_000;
const writeBudget = 3_000;
const appWriteWindowMs = 300_000;
/** Writes per application across all tenants per 5 minutes. */
export const appWriteBudget = 35_000;
const tenantWriteWindowMs = 300_000;
const tenantWriteBudget = 18_000;

export function resourceUnitBudget(tenantUserCount: number): number {
  if (tenantUserCount < 50) return 3_500;
  if (tenantUserCount <= 500) return 5_000;
  return 8_000;
}

/** Base cost of a request path (the documented table), adjusted by query options; never below 1. */
export function resourceUnitCost(method: string, path: string, query: URLSearchParams): number {
  const segments = path.split('/').filter((s) => s !== '');
  let cost = 1;
  if (method === 'GET') {
    const [first, , third] = segments;
    if (segments.length === 1 && first === 'users') cost = 2;
    else if (first === 'groups' && third === 'members' && segments.length === 3) cost = 3;
    else if (first === 'groups' && third === 'transitiveMembers') cost = 5;
    else if (first === 'me' && ['memberOf', 'transitiveMemberOf', 'ownedObjects', 'licenseDetails'].includes(segments[1] ?? '')) cost = 2;
    else if (first === 'users' && ['memberOf', 'transitiveMemberOf', 'ownedObjects', 'licenseDetails'].includes(third ?? '')) cost = 2;
  }
  if (query.has('$select')) cost -= 1;
  if (query.has('$expand')) cost += 1;
  const top = Number(query.get('$top'));
  if (query.has('$top') && Number.isFinite(top) && top < 20) cost -= 1;
  return Math.max(1, cost);
}

export function isWrite(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD';
}

/** Fixed windows per application+tenant pair; throttled requests still count against resource units. */
export class GraphThrottler {
  private readonly resourceUnits = new Map<string, Window>();
  private readonly writes = new Map<string, Window>();
  private readonly appWrites = new Map<string, Window>();
  private readonly tenantWrites = new Map<string, Window>();
  enabled = true;

  constructor(private readonly timeScale: number) {}

  reset(): void {
    this.resourceUnits.clear();
    this.writes.clear();
    this.appWrites.clear();
    this.tenantWrites.clear();
  }

  check(appId: string, tenantId: string, tenantUserCount: number, cost: number, write: boolean, nowMs: number): ThrottleDecision {
    if (!this.enabled) return { allowed: true, usedFraction: 0 };
    const key = `${appId}/${tenantId}`;
    const ruWindowMs = resourceUnitWindowMs / this.timeScale;
    const wWindowMs = writeWindowMs / this.timeScale;
    const ru = this.window(this.resourceUnits, key, nowMs, ruWindowMs);
    const budget = resourceUnitBudget(tenantUserCount);
    ru.used += cost;
    const usedFraction = ru.used / budget;
    if (ru.used > budget) {
      return { allowed: false, retryAfterSec: this.retryAfter(ru, ruWindowMs, nowMs), limit: 'ReadWrite', scope: 'Tenant_Application', information: 'ResourceUnitLimitExceeded', usedFraction };
    }
    if (write) {
      const w = this.window(this.writes, key, nowMs, wWindowMs);
      if (w.used + 1 > writeBudget) {
        return { allowed: false, retryAfterSec: this.retryAfter(w, wWindowMs, nowMs), limit: 'Write', scope: 'Tenant_Application', information: 'WriteLimitExceeded', usedFraction };
      }
      const appWindowMs = appWriteWindowMs / this.timeScale;
      const app = this.window(this.appWrites, appId, nowMs, appWindowMs);
      if (app.used + 1 > appWriteBudget) {
        return { allowed: false, retryAfterSec: this.retryAfter(app, appWindowMs, nowMs), limit: 'Write', scope: 'Application', information: 'WriteLimitExceeded', usedFraction };
      }
      const tenantWindowMs = tenantWriteWindowMs / this.timeScale;
      const tenant = this.window(this.tenantWrites, tenantId, nowMs, tenantWindowMs);
      if (tenant.used + 1 > tenantWriteBudget) {
        return { allowed: false, retryAfterSec: this.retryAfter(tenant, tenantWindowMs, nowMs), limit: 'Write', scope: 'Tenant', information: 'WriteLimitExceeded', usedFraction };
      }
      w.used += 1;
      app.used += 1;
      tenant.used += 1;
    }
    return { allowed: true, usedFraction };
  }

  private window(windows: Map<string, Window>, key: string, nowMs: number, lengthMs: number): Window {
    let w = windows.get(key);
    if (!w || nowMs - w.startMs >= lengthMs) {
      w = { startMs: nowMs, used: 0 };
      windows.set(key, w);
    }
    return w;
  }

  private retryAfter(w: Window, lengthMs: number, nowMs: number): number {
    return Math.max(0.001, (w.startMs + lengthMs - nowMs) / 1000);
  }
}

/** `Retry-After` in whole seconds at real time scale; with a faster scale fractions keep the shape. */
export function formatRetryAfter(seconds: number, timeScale: number): string {
  if (timeScale === 1) return String(Math.max(1, Math.ceil(seconds)));
  return String(Math.round(seconds * 1000) / 1000);
}
