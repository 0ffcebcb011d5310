/**
 * Subscribed products of a sandbox tenant and the licences on its users. SKU and service plan ids
 * are Microsoft's (licensing-service-plan-reference). ENTERPRISEPACK and EXCHANGESTANDARD carry
 * the two Exchange Online plans Entra refuses on one user, so tests can meet "mutually exclusive".
 */
export interface SandboxServicePlan {
  readonly servicePlanId: string;
  readonly servicePlanName: string;
}

export interface SandboxSku {
  readonly skuId: string;
  readonly skuPartNumber: string;
  /** Seats bought and active (`prepaidUnits.enabled`); the control API changes it. */
  enabled: number;
  readonly servicePlans: readonly SandboxServicePlan[];
}

/** A licence on a user (Graph `assignedLicense`). */
export interface SandboxAssignedLicense {
  readonly skuId: string;
  readonly disabledPlans: readonly string[];
}

const plans = {
  exchangeEnterprise: { servicePlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0', servicePlanName: 'EXCHANGE_S_ENTERPRISE' },
  exchangeStandard: { servicePlanId: '9aaf7827-d63c-4b61-89c3-182f06f82e5c', servicePlanName: 'EXCHANGE_S_STANDARD' },
  sharePoint: { servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72', servicePlanName: 'SHAREPOINTENTERPRISE' },
  teams: { servicePlanId: '57ff2da0-773e-42df-b2af-ffb7a2317929', servicePlanName: 'TEAMS1' },
  officeApps: { servicePlanId: '43de0ff5-c92c-492b-9116-175376d08c38', servicePlanName: 'OFFICESUBSCRIPTION' },
  intune: { servicePlanId: 'c1ec4a95-1f05-45b3-a911-aa3fa01094f5', servicePlanName: 'INTUNE_A' },
} as const;

/** Service plans Entra refuses to hold together on one user. */
const mutuallyExclusive: readonly (readonly [string, string])[] = [[plans.exchangeEnterprise.servicePlanId, plans.exchangeStandard.servicePlanId]];

/** What a seeded tenant subscribes to: few enough seats that tests can run out of them. */
export function defaultSkus(): SandboxSku[] {
  return [
    { skuId: '6fd2c87f-b296-42f0-b197-1e91e994b900', skuPartNumber: 'ENTERPRISEPACK', enabled: 25, servicePlans: [plans.exchangeEnterprise, plans.sharePoint, plans.teams, plans.officeApps] },
    { skuId: '4b9405b0-7788-4568-add1-99614e613b69', skuPartNumber: 'EXCHANGESTANDARD', enabled: 10, servicePlans: [plans.exchangeStandard] },
    { skuId: 'efccb6f7-5641-4e0e-bd10-b4976e1bf68e', skuPartNumber: 'EMS', enabled: 5, servicePlans: [plans.intune] },
  ];
}

/** The enabled service plans of the licences, by id. */
function enabledPlans(skus: readonly SandboxSku[], licenses: readonly SandboxAssignedLicense[]): string[] {
  return licenses.flatMap((license) => {
    const sku = skus.find((s) => s.skuId === license.skuId);
    return (sku?.servicePlans ?? []).map((p) => p.servicePlanId).filter((id) => !license.disabledPlans.includes(id));
  });
}

/** A pair of mutually exclusive plans the licences would hold together, if any. */
export function conflictingPlans(skus: readonly SandboxSku[], licenses: readonly SandboxAssignedLicense[]): readonly [string, string] | undefined {
  const enabled = new Set(enabledPlans(skus, licenses));
  return mutuallyExclusive.find(([a, b]) => enabled.has(a) && enabled.has(b));
}
