import { z } from 'zod';
import type { ConnectionStatus } from './connection-state';

/** Optional export rules, named by their directory attribute (DESIGN.md, "Attribute mapping"). */
export const exportAttributeNames = [
  'alternateEmail',
  'businessPhones',
  'mobilePhone',
  'address',
  'department',
  'jobTitle',
  'manager',
  'location',
  'company',
  'employeeId',
  'employeeType',
  'costCenter',
  'usageLocation',
] as const;
export type ExportAttribute = (typeof exportAttributeNames)[number];

/** What deprovisioning does to an account: disable it, or disable it and delete it after a grace period. */
export const deprovisionActions = ['disable', 'disable_then_delete'] as const;

/** A licence to assign: a subscribed SKU by part number or id, with service plans to leave off. */
export const licenseSettingSchema = z
  .strictObject({
    skuPartNumber: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9_.+-]+$/, 'must be a SKU part number such as ENTERPRISEPACK').optional(),
    skuId: z.uuid().optional(),
    disabledPlans: z.array(z.uuid()).max(100).optional(),
  })
  .refine((license) => (license.skuPartNumber === undefined) !== (license.skuId === undefined), 'give exactly one of skuPartNumber or skuId');
export type LicenseSetting = z.output<typeof licenseSettingSchema>;

export const licenseListSchema = z.array(licenseSettingSchema).max(20);

const deactivationGuardSchema = z.strictObject({
  /** A run that would deactivate more users than this stops until an admin confirms. */
  maxUsers: z.number().int().min(0).max(1_000_000),
  /** ...or more than this share (0-100) of the connection's bound users. */
  maxPercent: z.number().min(0).max(100),
});

/** The mass-change guard's threshold for writes to existing accounts (attributes, renames, passwords). */
const changeGuardSchema = z.strictObject({
  /** More accounts than this changed at once wait for an admin (a settings change answers with a plan to confirm). */
  maxUsers: z.number().int().min(0).max(1_000_000),
  /** ...or more than this share (0-100) of the connection's bound users. */
  maxPercent: z.number().min(0).max(100),
});
export const defaultChangeGuard = { maxUsers: 500, maxPercent: 10 } as const;

/** Connection settings with their defaults (every field optional on input). */
export const connectionSettingsSchema = z.strictObject({
  exportAttributes: z
    .array(z.enum(exportAttributeNames))
    .max(exportAttributeNames.length)
    .refine((list) => new Set(list).size === list.length, 'must not repeat an attribute')
    .default([]),
  conflictPolicy: z.enum(['fail', 'link']).default('fail'),
  deletedAccountPolicy: z.enum(['recreate', 'error']).default('recreate'),
  /** `disable_then_delete`: accounts disabled longer than `deleteAfterDays` are deleted (Entra keeps them restorable for 30 days). */
  deprovisionAction: z.enum(deprovisionActions).default('disable'),
  /** Days a deprovisioned account stays disabled before `disable_then_delete` deletes it. */
  deleteAfterDays: z.number().int().min(1).max(3650).default(30),
  /** Licences every provisioned user of the connection gets (bound groups may add their own). */
  licenses: licenseListSchema.default([]),
  /** Deprovisioning also removes the licences this service assigned, to free their seats. */
  removeLicensesOnDeprovision: z.boolean().default(false),
  /** Deprovisioning (suspend, unbind) also signs the account out everywhere (`revokeSignInSessions`). */
  revokeSessionsOnDeprovision: z.boolean().default(true),
  /** ISO 3166-1 alpha-2 code given to created accounts (licences need one). */
  usageLocation: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code such as "US"').optional(),
  deactivationGuard: deactivationGuardSchema.default({ maxUsers: 500, maxPercent: 10 }),
  changeGuard: changeGuardSchema.default(defaultChangeGuard),
  /** Unbinding a group deletes its Microsoft 365 group too; absent or false leaves it (with its members). */
  deleteGroupOnUnbind: z.boolean().optional(),
  /**
   * A directory user without a value for a mapped attribute: `keep` leaves the Microsoft 365 value as
   * it is, `clear` blanks it. Emptying a value the directory had clears it either way.
   */
  emptyValues: z.enum(['keep', 'clear']).default('keep'),
  /** Graph change notifications correct drift within seconds; absent or true keeps them on, false leaves drift to the reconcile timer. */
  changeNotifications: z.boolean().optional(),
});
export type ConnectionSettings = z.output<typeof connectionSettingsSchema>;

/** A settings change: only the fields given are replaced; `usageLocation: null` clears it. */
export const connectionSettingsPatchSchema = z.strictObject({
  exportAttributes: connectionSettingsSchema.shape.exportAttributes.unwrap().optional(),
  conflictPolicy: z.enum(['fail', 'link']).optional(),
  deletedAccountPolicy: z.enum(['recreate', 'error']).optional(),
  deprovisionAction: z.enum(deprovisionActions).optional(),
  deleteAfterDays: connectionSettingsSchema.shape.deleteAfterDays.unwrap().optional(),
  revokeSessionsOnDeprovision: z.boolean().optional(),
  licenses: licenseListSchema.optional(),
  removeLicensesOnDeprovision: z.boolean().optional(),
  usageLocation: connectionSettingsSchema.shape.usageLocation.unwrap().nullable().optional(),
  deactivationGuard: deactivationGuardSchema.optional(),
  changeGuard: changeGuardSchema.optional(),
  deleteGroupOnUnbind: z.boolean().optional(),
  emptyValues: z.enum(['keep', 'clear']).optional(),
  changeNotifications: z.boolean().optional(),
});
export type ConnectionSettingsPatch = z.output<typeof connectionSettingsPatchSchema>;

/** A DNS domain name as a connection claims it, normalised to lower case. */
export const domainNameSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as contoso.com');

export const domainListSchema = z
  .array(domainNameSchema)
  .max(100)
  .refine((list) => new Set(list).size === list.length, 'must not repeat a domain');

/** Who consented, as the authority and Graph reported it. */
export interface ConsentingAccount {
  readonly objectId: string;
  readonly upn: string;
}

/** Why a connection needs a Global Administrator to consent again. */
export interface ReauthorizationInfo {
  /** The authority's error code (`AADSTS700082`, `AADSTS50173`...) or `token_cache_missing`. */
  readonly code: string;
  readonly reason: string;
  readonly at: string;
}

/**
 * The connection was consented before permissions a newer feature needs (Graph answered 403):
 * everything else keeps working; a Global Administrator consents again to enable the feature.
 */
export interface ConsentUpgrade {
  /** The delegated permissions the consent lacks. */
  readonly permissions: readonly string[];
  readonly reason: string;
  readonly at: string;
}

/** Deactivations the mass-deactivation guard holds for an admin to confirm or cancel (status `sync_paused`). */
export interface DeactivationHold {
  readonly count: number;
  readonly since: string;
}

/** The stored connection (container `connections`, pk = id). Holds no secret. */
export interface ConnectionRecord {
  readonly id: string;
  readonly name: string;
  readonly status: ConnectionStatus;
  /** Requested domains while pending; the claimed domains once consented. */
  readonly domains: readonly string[];
  readonly settings: ConnectionSettings;
  readonly tenantId?: string;
  readonly tenantName?: string;
  readonly consentedBy?: ConsentingAccount;
  readonly consentedAt?: string;
  /** msal's key of the consenting account in the token cache (an identifier, not a credential). */
  readonly homeAccountId?: string;
  readonly reauthorization?: ReauthorizationInfo;
  readonly deactivationHold?: DeactivationHold;
  readonly consentUpgrade?: ConsentUpgrade;
  readonly deauthorizedAt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A connection as the API shows it: an allow-list of fields. */
export interface ConnectionView {
  readonly id: string;
  readonly name: string;
  readonly status: ConnectionStatus;
  readonly domains: readonly string[];
  readonly settings: ConnectionSettings;
  readonly tenantId?: string;
  readonly tenantName?: string;
  readonly consentedBy?: ConsentingAccount;
  readonly consentedAt?: string;
  readonly reauthorization?: ReauthorizationInfo;
  readonly deactivationHold?: DeactivationHold;
  /** Present when the consent lacks permissions a feature needs; the link starts a new consent. */
  readonly consentUpgrade?: ConsentUpgrade & { readonly status: 'consent_upgrade_required'; readonly consentLink: string };
  readonly deauthorizedAt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toConnectionView(record: ConnectionRecord): ConnectionView {
  return {
    id: record.id,
    name: record.name,
    status: record.status,
    domains: record.domains,
    settings: record.settings,
    ...(record.tenantId === undefined ? {} : { tenantId: record.tenantId }),
    ...(record.tenantName === undefined ? {} : { tenantName: record.tenantName }),
    ...(record.consentedBy === undefined ? {} : { consentedBy: record.consentedBy }),
    ...(record.consentedAt === undefined ? {} : { consentedAt: record.consentedAt }),
    ...(record.reauthorization === undefined ? {} : { reauthorization: record.reauthorization }),
    ...(record.deactivationHold === undefined ? {} : { deactivationHold: record.deactivationHold }),
    ...(record.consentUpgrade === undefined ? {} : { consentUpgrade: { status: 'consent_upgrade_required' as const, ...record.consentUpgrade, consentLink: `/api/connections/${record.id}/consent` } }),
    ...(record.deauthorizedAt === undefined ? {} : { deauthorizedAt: record.deauthorizedAt }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** Applies a settings change to the current settings. */
export function applySettingsPatch(current: ConnectionSettings, patch: ConnectionSettingsPatch): ConnectionSettings {
  const deleteGroupOnUnbind = patch.deleteGroupOnUnbind ?? current.deleteGroupOnUnbind;
  const changeNotifications = patch.changeNotifications ?? current.changeNotifications;
  const next: ConnectionSettings = {
    exportAttributes: patch.exportAttributes ?? current.exportAttributes,
    conflictPolicy: patch.conflictPolicy ?? current.conflictPolicy,
    deletedAccountPolicy: patch.deletedAccountPolicy ?? current.deletedAccountPolicy,
    deprovisionAction: patch.deprovisionAction ?? current.deprovisionAction,
    deleteAfterDays: patch.deleteAfterDays ?? current.deleteAfterDays ?? 30,
    revokeSessionsOnDeprovision: patch.revokeSessionsOnDeprovision ?? current.revokeSessionsOnDeprovision ?? true,
    licenses: patch.licenses ?? current.licenses ?? [],
    removeLicensesOnDeprovision: patch.removeLicensesOnDeprovision ?? current.removeLicensesOnDeprovision ?? false,
    deactivationGuard: patch.deactivationGuard ?? current.deactivationGuard,
    // Connections stored before the mass-change guard existed have none yet.
    changeGuard: patch.changeGuard ?? current.changeGuard ?? defaultChangeGuard,
    emptyValues: patch.emptyValues ?? current.emptyValues,
    ...(deleteGroupOnUnbind === undefined ? {} : { deleteGroupOnUnbind }),
    ...(changeNotifications === undefined ? {} : { changeNotifications }),
  };
  const usageLocation = patch.usageLocation === undefined ? current.usageLocation : (patch.usageLocation ?? undefined);
  return usageLocation === undefined ? next : { ...next, usageLocation };
}
