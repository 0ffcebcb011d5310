import type { LicenseSetting } from '../connections/connection';
import { err, ok, type Result } from '../result';
import type { AssignedLicense, SubscribedSku } from './m365-user-gateway';

/** A licence this service assigned to an account (kept on the binding, so only those are ever removed). */
export interface ManagedLicense {
  readonly skuId: string;
  readonly skuPartNumber: string;
}

/** One `assignLicense` call and what it changes, by SKU part number for the event. */
export interface LicensePlan {
  readonly add: readonly AssignedLicense[];
  readonly remove: readonly string[];
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** The licences this service manages on the account once the call is made. */
  readonly managed: readonly ManagedLicense[];
}

/** Why the licences cannot be written as they are wanted. */
export type LicenseRefusal =
  | { readonly code: 'LICENSE_UNKNOWN'; readonly message: string }
  | { readonly code: 'LICENSE_UNAVAILABLE'; readonly message: string; readonly skuPartNumbers: readonly string[] };

/** `LicenseSetting`s from every source (connection, bound groups), one per SKU with the plans all sources disable. */
function wantedBySku(wanted: readonly LicenseSetting[], skus: readonly SubscribedSku[]): Result<Map<string, { sku: SubscribedSku; disabledPlans: string[] }>, LicenseRefusal> {
  const bySku = new Map<string, { sku: SubscribedSku; disabledPlans: string[] }>();
  for (const setting of wanted) {
    const sku = skus.find((s) => (setting.skuId !== undefined ? s.skuId.toLowerCase() === setting.skuId.toLowerCase() : s.skuPartNumber.toLowerCase() === setting.skuPartNumber?.toLowerCase()));
    const name = setting.skuPartNumber ?? setting.skuId ?? '';
    if (sku === undefined || sku.appliesTo !== 'User') {
      return err({ code: 'LICENSE_UNKNOWN', message: `the tenant has no user subscription ${name} (GET /api/connections/{id}/licenses lists what it has)` });
    }
    const disabled = (setting.disabledPlans ?? []).map((p) => p.toLowerCase());
    const earlier = bySku.get(sku.skuId);
    // Two sources of one SKU: a plan stays off only when both turn it off.
    bySku.set(sku.skuId, { sku, disabledPlans: earlier === undefined ? disabled : earlier.disabledPlans.filter((p) => disabled.includes(p)) });
  }
  return ok(bySku);
}

function samePlans(a: readonly string[], b: readonly string[]): boolean {
  const lower = new Set(a.map((p) => p.toLowerCase()));
  return a.length === b.length && b.every((p) => lower.has(p.toLowerCase()));
}

/**
 * What to add and remove so the account holds the wanted licences: wanted SKUs it lacks (or holds
 * with other disabled plans) are added; SKUs this service assigned (`managed`) and nobody wants any
 * more are removed. Licences an admin assigned by hand are never removed. A SKU to add without a
 * free seat refuses the whole plan, naming it.
 */
export function planLicenses(wanted: readonly LicenseSetting[], skus: readonly SubscribedSku[], held: readonly AssignedLicense[], managed: readonly ManagedLicense[]): Result<LicensePlan, LicenseRefusal> {
  const bySku = wantedBySku(wanted, skus);
  if (!bySku.ok) return bySku;
  const add: AssignedLicense[] = [];
  const added: string[] = [];
  const full: string[] = [];
  for (const { sku, disabledPlans } of bySku.value.values()) {
    const current = held.find((l) => l.skuId.toLowerCase() === sku.skuId.toLowerCase());
    if (current !== undefined && samePlans(current.disabledPlans, disabledPlans)) continue;
    if (current === undefined && sku.enabled - sku.consumed <= 0) full.push(`${sku.skuPartNumber} (${sku.skuId}, ${sku.consumed} of ${sku.enabled} seats assigned)`);
    add.push({ skuId: sku.skuId, disabledPlans });
    added.push(sku.skuPartNumber);
  }
  if (full.length > 0) {
    return err({ code: 'LICENSE_UNAVAILABLE', skuPartNumbers: full, message: `no free seat of ${full.join(', ')}; the binding is tried again once a seat is free` });
  }
  const gone = managed.filter((m) => !bySku.value.has(m.skuId) && held.some((l) => l.skuId.toLowerCase() === m.skuId.toLowerCase()));
  const managedNow = [...bySku.value.values()].map(({ sku }) => ({ skuId: sku.skuId, skuPartNumber: sku.skuPartNumber }));
  return ok({ add, remove: gone.map((m) => m.skuId), added, removed: gone.map((m) => m.skuPartNumber), managed: managedNow });
}

/**
 * For an account being deprovisioned: never adds; removes the licences this service assigned that
 * `wanted` no longer names (matched by SKU id or part number, so no Graph read is needed).
 */
export function planRemovals(wanted: readonly LicenseSetting[], held: readonly AssignedLicense[], managed: readonly ManagedLicense[]): LicensePlan {
  const stillWanted = (m: ManagedLicense) =>
    wanted.some((w) => (w.skuId !== undefined ? w.skuId.toLowerCase() === m.skuId.toLowerCase() : w.skuPartNumber?.toLowerCase() === m.skuPartNumber.toLowerCase()));
  const kept = managed.filter(stillWanted);
  const gone = managed.filter((m) => !stillWanted(m) && held.some((l) => l.skuId.toLowerCase() === m.skuId.toLowerCase()));
  return { add: [], remove: gone.map((m) => m.skuId), added: [], removed: gone.map((m) => m.skuPartNumber), managed: kept };
}
