import type { LicenseSetting } from '../connections/connection';
import type { ManagedLicense } from './license-plan';
import type { M365Attributes } from './m365-user-gateway';
import type { ProvisioningEventType } from './provisioning-events';

export const bindingStates = ['pending', 'provisioned', 'error', 'deprovisioned'] as const;
export type BindingState = (typeof bindingStates)[number];

export interface BindingError {
  readonly code: string;
  readonly message: string;
  readonly at: string;
}

/** How a user came to be bound: directly, through bound groups, or both. Unbound when neither. */
export interface BindingVia {
  readonly direct: boolean;
  readonly groups: readonly string[];
}

/**
 * A Graph write that was started and not yet confirmed: what it set (never a password) and the
 * events it records. A redelivery that finds the account holding these values records the events
 * under the same ids instead of writing again.
 */
export interface PendingWrite {
  readonly seq: number;
  readonly attributes: M365Attributes;
  readonly password: boolean;
  /** The manager reference it set (object id, or null for removed); absent when untouched. */
  readonly manager?: string | null;
  /** The account's sign-in sessions are revoked after the attributes are written. */
  readonly revokeSessions?: true;
  /** Instead of a PATCH: the account is deleted, restored from Entra's deleted items, or its licences changed. */
  readonly action?: 'delete' | 'restore' | 'licenses';
  /** For `licenses`: the SKU ids added and removed. */
  readonly licenses?: { readonly add: readonly string[]; readonly remove: readonly string[] };
  /** `version` names the change within the binding (`link:<n>`, `write:<seq>`); it makes the event id. */
  readonly events: readonly PendingEvent[];
}

/** An event a write records once it is done; the optional fields are copied onto the event. */
export interface PendingEvent {
  readonly type: ProvisioningEventType;
  readonly version: string;
  readonly changedAttributes: readonly string[];
  readonly sessionsRevoked?: boolean;
  readonly restored?: boolean;
  readonly addedLicenses?: readonly string[];
  readonly removedLicenses?: readonly string[];
}

/** A user's binding to a connection (container `bindings`, pk = connection id, id = user id). */
export interface UserBindingRecord {
  readonly kind: 'user';
  readonly connectionId: string;
  readonly userId: string;
  /** Random per binding document, so the event ids of an earlier binding never collide with this one's. */
  readonly incarnation: string;
  readonly state: BindingState;
  readonly via: BindingVia;
  /** Bumped by every change that matters (bind, unbind, directory change); each bump sends one nudge. */
  readonly changeSeq: number;
  /** The changeSeq the worker last finished (successfully or with a permanent error); older nudges are stale. */
  readonly handledChangeSeq: number;
  /**
   * The latest changeSeq given for anything but an edit of the user's own attributes (a bind, an
   * unbind, a fan-out, a suspension, a password): while it is unhandled, the worker's writes count
   * toward the change guard whichever nudge runs them. Absent on bindings written before it was kept.
   */
  readonly guardedChangeSeq?: number;
  readonly m365UserId?: string;
  readonly lastError?: BindingError;
  /** Failed attempts since the last success. */
  readonly attempts: number;
  readonly lastSyncedAt?: string;
  /** Accounts linked so far (create or take-over); names the create event of each link. */
  readonly linkCount: number;
  /** Graph writes confirmed so far; names the events of each write. */
  readonly writeSeq: number;
  readonly pendingWrite?: PendingWrite;
  /** A directory password waits in the secret store (`pendingPasswordSecretName`). */
  readonly passwordPending: boolean;
  /** The manager reference last set, so it is written only when it changes. */
  readonly managerM365Id?: string | null;
  /** Something skipped on purpose, for the admin (a manager bound elsewhere, say). */
  readonly note?: string;
  /** Since when the account has been disabled by deprovisioning (the grace period of `disable_then_delete` runs from here). */
  readonly disabledAt?: string;
  /** When the account was deleted after its grace period; `m365UserId` still names it, for a restore. */
  readonly deletedAt?: string;
  /** The licences this service assigned to the account; only these are ever removed. */
  readonly licenses?: readonly ManagedLicense[];
  /** An imported account's own sign-in names, where they differ from what the directory email maps to. */
  readonly keptNames?: KeptNames;
  /**
   * Graph properties the directory user had a value for at the last finished run (or the import):
   * emptying one of them is a change to push, emptying any other leaves Microsoft 365's value.
   */
  readonly valuedProperties?: readonly string[];
  /** Graph properties the last run wrote or kept in step (an empty directory value under `keep` is not managed). */
  readonly managedAttributes?: readonly string[];
  /** The admin allowed disabling, re-passwording and renaming the account although it is privileged. */
  readonly allowPrivileged?: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/**
 * The userPrincipalName and mailNickname an imported account already had. The directory user gets
 * the account's mail as its email, which need not be its UPN; while that email stays the one it was
 * imported with, provisioning and reconciliation keep these names instead of deriving them from the
 * email, so an import never renames anyone's sign-in. Changing the email renames as usual.
 */
export interface KeptNames {
  /** The directory email these names go with. */
  readonly email: string;
  readonly userPrincipalName: string;
  readonly mailNickname: string;
}

/** A group's binding (id `group:<groupId>`): every current and future member is bound through it. */
export interface GroupBindingRecord {
  readonly kind: 'group';
  readonly connectionId: string;
  readonly groupId: string;
  /** `binding` while members are being bound, `bound` once all were, `unbinding` while they are being released. */
  readonly expansion: 'binding' | 'bound' | 'unbinding';
  readonly boundMembers: number;
  /** Members left unbound: their domain is not this connection's, or they are bound elsewhere. */
  readonly skippedMembers: number;
  /** The Microsoft 365 group it is anchored on, when it was imported from one (nothing is created then). */
  readonly m365GroupId?: string;
  /** Licences every member bound through the group gets. */
  readonly licenses?: readonly LicenseSetting[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type BindingRecord = UserBindingRecord | GroupBindingRecord;

export function groupBindingId(groupId: string): string {
  return `group:${groupId}`;
}

export function isBound(via: BindingVia): boolean {
  return via.direct || via.groups.length > 0;
}

/** The `uniques` claim that keeps a user bound to at most one connection. */
export function bindingClaimKey(userId: string): string {
  return `binding:${userId}`;
}

/** The secret holding a directory password until the worker has set it in Microsoft 365. */
export function pendingPasswordSecretName(userId: string): string {
  return `pending-password-${userId}`;
}

/** A user binding as the API shows it. */
export interface UserBindingView {
  readonly connectionId: string;
  readonly userId: string;
  readonly state: BindingState;
  readonly bound: boolean;
  readonly via: BindingVia;
  readonly m365UserId?: string;
  readonly lastError?: BindingError;
  readonly attempts: number;
  readonly lastSyncedAt?: string;
  readonly note?: string;
  readonly keptNames?: KeptNames;
  readonly disabledAt?: string;
  readonly deletedAt?: string;
  readonly licenses?: readonly ManagedLicense[];
  /** The Microsoft 365 properties provisioning keeps in step for this account (as of its last run). */
  readonly managedAttributes?: readonly string[];
  readonly allowPrivileged?: boolean;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toUserBindingView(record: UserBindingRecord): UserBindingView {
  return {
    connectionId: record.connectionId,
    userId: record.userId,
    state: record.state,
    bound: isBound(record.via),
    via: record.via,
    ...(record.m365UserId === undefined ? {} : { m365UserId: record.m365UserId }),
    ...(record.lastError === undefined ? {} : { lastError: record.lastError }),
    attempts: record.attempts,
    ...(record.lastSyncedAt === undefined ? {} : { lastSyncedAt: record.lastSyncedAt }),
    ...(record.note === undefined ? {} : { note: record.note }),
    ...(record.keptNames === undefined ? {} : { keptNames: record.keptNames }),
    ...(record.disabledAt === undefined ? {} : { disabledAt: record.disabledAt }),
    ...(record.deletedAt === undefined ? {} : { deletedAt: record.deletedAt }),
    ...(record.licenses === undefined || record.licenses.length === 0 ? {} : { licenses: record.licenses }),
    ...(record.managedAttributes === undefined ? {} : { managedAttributes: record.managedAttributes }),
    ...(record.allowPrivileged === true ? { allowPrivileged: true } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

export interface GroupBindingView {
  readonly connectionId: string;
  readonly groupId: string;
  readonly expansion: GroupBindingRecord['expansion'];
  readonly boundMembers: number;
  readonly skippedMembers: number;
  readonly m365GroupId?: string;
  readonly licenses?: readonly LicenseSetting[];
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toGroupBindingView(record: GroupBindingRecord): GroupBindingView {
  return {
    connectionId: record.connectionId,
    groupId: record.groupId,
    expansion: record.expansion,
    boundMembers: record.boundMembers,
    skippedMembers: record.skippedMembers,
    ...(record.m365GroupId === undefined ? {} : { m365GroupId: record.m365GroupId }),
    ...(record.licenses === undefined ? {} : { licenses: record.licenses }),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}
