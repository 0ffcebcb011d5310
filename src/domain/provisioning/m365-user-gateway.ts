import type { Result } from '../result';

/** The Graph `user` properties provisioning reads or writes (the `$select` of every read). */
export const m365UserProperties = [
  'id',
  'userPrincipalName',
  'mailNickname',
  'givenName',
  'surname',
  'displayName',
  'accountEnabled',
  'otherMails',
  'businessPhones',
  'mobilePhone',
  'streetAddress',
  'city',
  'state',
  'postalCode',
  'country',
  'department',
  'jobTitle',
  'officeLocation',
  'companyName',
  'employeeId',
  'employeeType',
  'employeeOrgData',
  'usageLocation',
  // Read only when the connection manages licences; written through assignLicense, never PATCH.
  'assignedLicenses',
] as const;

export type M365UserProperty = (typeof m365UserProperties)[number];

/** A Graph user as read with `$select`: only the selected properties are present. */
export interface M365User {
  readonly id: string;
  readonly userPrincipalName: string;
  readonly [property: string]: unknown;
}

/** The `passwordProfile` Graph takes on create and on a password reset. */
export interface PasswordProfile {
  readonly password: string;
  readonly forceChangePasswordNextSignIn: boolean;
}

/** The writable attributes of a PATCH or POST: property name to its new value (null clears). */
export type M365Attributes = Readonly<Partial<Record<Exclude<M365UserProperty, 'id'>, unknown>>>;

export interface M365UserPatch {
  readonly attributes: M365Attributes;
  readonly passwordProfile?: PasswordProfile;
}

export interface NewM365User {
  /** Must hold accountEnabled, displayName, mailNickname and userPrincipalName (Graph's required set). */
  readonly attributes: M365Attributes;
  readonly passwordProfile: PasswordProfile;
}

/**
 * Why a Graph call failed, classified once by the Graph error translator (status first):
 * `transient` (429, 5xx, network; `throttled` for 429), `permanent` (400 and other client errors),
 * `not_found` (404), `exists` (an object with the same key exists), `stop` (401/403, or the
 * connection's authorization is broken: `reauthorizationRequired`).
 */
export type GatewayFailure =
  | { readonly kind: 'transient'; readonly code: string; readonly message: string; readonly retryAfterMs?: number; readonly throttled: boolean }
  | { readonly kind: 'permanent'; readonly code: string; readonly message: string }
  | { readonly kind: 'not_found'; readonly code: string; readonly message: string }
  | { readonly kind: 'exists'; readonly code: string; readonly message: string }
  | { readonly kind: 'stop'; readonly code: string; readonly message: string; readonly reauthorizationRequired: boolean };

export type GatewayResult<T> = Result<T, GatewayFailure>;

/** A licence on an account (Graph `assignedLicense`). */
export interface AssignedLicense {
  readonly skuId: string;
  readonly disabledPlans: readonly string[];
}

/** A product the tenant subscribes to, with its seats (Graph `subscribedSku`). */
export interface SubscribedSku {
  readonly skuId: string;
  readonly skuPartNumber: string;
  /** Only `User` SKUs can be assigned to users. */
  readonly appliesTo: string;
  readonly capabilityStatus: string;
  /** Seats bought and active (`prepaidUnits.enabled`) and assigned (`consumedUnits`). */
  readonly enabled: number;
  readonly consumed: number;
  readonly servicePlans: readonly { readonly servicePlanId: string; readonly servicePlanName: string }[];
}

/** Microsoft 365 user accounts of one connection's tenant (Graph `users`); every read uses `$select`. */
export interface M365UserGateway {
  /** The account with this userPrincipalName, or undefined when there is none (or none visible yet). */
  findByUpn(upn: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User | undefined>>;
  /** The account with this object id; `not_found` when it does not exist (any more). */
  get(id: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User>>;
  /** Creates an account; `exists` when the userPrincipalName is taken (Graph's ObjectConflict). */
  create(user: NewM365User): Promise<GatewayResult<M365User>>;
  update(id: string, patch: M365UserPatch): Promise<GatewayResult<void>>;
  /** Sets the manager reference, or removes it with `null` (removing a missing one succeeds). */
  setManager(id: string, managerId: string | null): Promise<GatewayResult<void>>;
  /** Ends every sign-in session of the account: its refresh tokens stop working (`revokeSignInSessions`). */
  revokeSessions(id: string): Promise<GatewayResult<void>>;
  /** Deletes the account (Entra keeps it restorable in deleted items for 30 days); `not_found` when it is gone already. */
  delete(id: string): Promise<GatewayResult<void>>;
  /** Restores a deleted account with its object id; `not_found` when Entra no longer has it. */
  restore(id: string): Promise<GatewayResult<void>>;
  /** The tenant's subscribed SKUs with their seats. */
  subscribedSkus(): Promise<GatewayResult<SubscribedSku[]>>;
  /**
   * Adds and removes licences in one `assignLicense`. Failures Graph explains get their own codes:
   * `LICENSE_UNAVAILABLE` (no free seat), `USAGE_LOCATION_REQUIRED` (the account has none).
   */
  assignLicenses(id: string, add: readonly AssignedLicense[], remove: readonly string[]): Promise<GatewayResult<void>>;
  /**
   * Object ids (lower case) of the tenant's users holding a directory role Microsoft labels
   * privileged (`privilegedRoleTemplateIds`). Read from the role memberships, a few requests per
   * tenant, and kept for a few minutes.
   */
  privilegedRoleHolders(): Promise<GatewayResult<ReadonlySet<string>>>;
}

/** Opens the gateway of a connection (its tenant, its tokens). */
export interface M365UserGateways {
  forConnection(connectionId: string): M365UserGateway;
}
