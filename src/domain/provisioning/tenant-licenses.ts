import { licensingPermissions, markConsentUpgradeRequired, type ConsentUpgradeDeps } from '../connections/consent-upgrade';
import { err, ok, type Result } from '../result';
import { readConnection } from './bind-user';
import type { M365UserGateways, SubscribedSku } from './m365-user-gateway';

/** A subscribed product and its seats, as the API shows it. */
export interface TenantLicenseView extends SubscribedSku {
  /** Seats left to assign (never below 0). */
  readonly free: number;
}

export type TenantLicensesRefusal =
  | { readonly code: 'connection_not_found'; readonly message: string }
  | { readonly code: 'connection_not_active'; readonly message: string }
  /** The consent predates licence management (Graph answered 403); the connection now says so. */
  | { readonly code: 'consent_upgrade_required'; readonly message: string }
  /** Graph failed or refused otherwise (throttled, unavailable, re-consent pending). */
  | { readonly code: 'graph_unavailable'; readonly message: string };

/** GET /connections/{id}/licenses: the tenant's subscribed SKUs with their seats, read live from Graph. */
export async function listTenantLicenses(deps: ConsentUpgradeDeps & { readonly gateways: M365UserGateways }, connectionId: string): Promise<Result<TenantLicenseView[], TenantLicensesRefusal>> {
  const connection = await readConnection(deps.store, connectionId);
  if (connection === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  if (connection.status !== 'active' && connection.status !== 'sync_paused') {
    return err({ code: 'connection_not_active', message: `connection ${connectionId} is ${connection.status}; its tenant cannot be read` });
  }
  const read = await deps.gateways.forConnection(connectionId).subscribedSkus();
  if (!read.ok) {
    if (read.error.kind === 'stop' && !read.error.reauthorizationRequired) {
      await markConsentUpgradeRequired(deps, connectionId, licensingPermissions, read.error.message);
      return err({ code: 'consent_upgrade_required', message: `connection ${connectionId} was consented before licence management: a Global Administrator must consent again (POST /api/connections/${connectionId}/consent) to grant ${licensingPermissions.join(', ')}` });
    }
    return err({ code: 'graph_unavailable', message: `Microsoft Graph did not list the subscribed SKUs: ${read.error.message}` });
  }
  return ok(
    read.value.map((sku) => ({
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      appliesTo: sku.appliesTo,
      capabilityStatus: sku.capabilityStatus,
      enabled: sku.enabled,
      consumed: sku.consumed,
      free: Math.max(0, sku.enabled - sku.consumed),
      servicePlans: sku.servicePlans,
    })),
  );
}
