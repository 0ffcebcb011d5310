import type { GatewayFailure } from '../provisioning/m365-user-gateway';
import type { Result } from '../result';

/**
 * The Graph `user` properties an import reads (the `$select` of every user read): the names and
 * every property an export rule can write, so the directory starts from what Microsoft 365 holds.
 */
export const m365PersonProperties = [
  'id',
  'userPrincipalName',
  'mail',
  'displayName',
  'givenName',
  'surname',
  'mailNickname',
  'accountEnabled',
  'jobTitle',
  'department',
  'companyName',
  'employeeId',
  'employeeType',
  'employeeOrgData',
  'officeLocation',
  'businessPhones',
  'mobilePhone',
  'otherMails',
  'streetAddress',
  'city',
  'state',
  'postalCode',
  'country',
] as const;

/** A Microsoft 365 user as an import reads it; Graph leaves out what is null. */
export interface M365Person {
  readonly id: string;
  readonly userPrincipalName: string;
  readonly mail?: string | null;
  readonly displayName?: string | null;
  readonly givenName?: string | null;
  readonly surname?: string | null;
  readonly mailNickname?: string | null;
  readonly accountEnabled?: boolean | null;
  readonly jobTitle?: string | null;
  readonly department?: string | null;
  readonly companyName?: string | null;
  readonly employeeId?: string | null;
  readonly employeeType?: string | null;
  readonly employeeOrgData?: { readonly costCenter?: string | null; readonly division?: string | null } | null;
  readonly officeLocation?: string | null;
  readonly businessPhones?: readonly string[] | null;
  readonly mobilePhone?: string | null;
  readonly otherMails?: readonly string[] | null;
  readonly streetAddress?: string | null;
  readonly city?: string | null;
  readonly state?: string | null;
  readonly postalCode?: string | null;
  readonly country?: string | null;
  /** The manager's object id, where the user has one (read with `$expand=manager($select=id)`; group member pages leave it out). */
  readonly managerId?: string;
}

/** A Microsoft 365 group as an import reads it. */
export interface M365Group {
  readonly id: string;
  readonly displayName: string;
  readonly description?: string | null;
  readonly securityEnabled?: boolean | null;
  readonly mailEnabled?: boolean | null;
  readonly groupTypes?: readonly string[] | null;
}

/** One page of a Graph collection. `nextPage` is Graph's `@odata.nextLink`: pass it back to read on. */
export interface M365Page<T> {
  readonly items: readonly T[];
  readonly nextPage?: string;
}

/**
 * Why a read failed: a Graph failure as the one translator classified it, or a page link (from a
 * client's cursor or a queue message) that is not one of this collection's.
 */
export type DirectoryReadFailure = GatewayFailure | { readonly kind: 'invalid_link'; readonly code: 'INVALID_PAGE_LINK'; readonly message: string };

export type DirectoryRead<T> = Result<T, DirectoryReadFailure>;

/** Graph's largest page of users and of group members. */
export const m365PageSize = 999;

/** Graph's default limit on the values of one `in` filter. */
export const idsPerFilter = 15;

/** Users one `usersByIds` call reads: 20 `in` filters of 15 ids in one `$batch`. */
export const idsPerLookup = 20 * idsPerFilter;

/**
 * The read-only side of one connection's tenant that imports need. Every read names its
 * `$select` and asks for the largest page Graph serves; nothing here writes to Microsoft 365.
 */
export interface M365Directory {
  /** A page of the tenant's users, optionally only enabled (or disabled) ones; `page` is a `nextPage` of the same listing. */
  listUsers(request: { readonly enabled?: boolean; readonly page?: string }): Promise<DirectoryRead<M365Page<M365Person>>>;
  /** The users with these object ids (at most `idsPerLookup`), in one round trip; ids not found are left out. */
  usersByIds(ids: readonly string[]): Promise<DirectoryRead<M365Person[]>>;
  /** The group, or undefined when the tenant has none with this id. */
  getGroup(id: string): Promise<DirectoryRead<M365Group | undefined>>;
  /** A page of a group's user members (nested groups and devices are left out). */
  listGroupMembers(groupId: string, page?: string): Promise<DirectoryRead<M365Page<M365Person>>>;
  /** Object ids (lower case) of the users holding a privileged directory role (`privilegedRoleTemplateIds`). */
  privilegedRoleHolders(): Promise<DirectoryRead<ReadonlySet<string>>>;
}

/** Opens the directory of a connection (its tenant, its tokens). */
export interface M365Directories {
  forConnection(connectionId: string): M365Directory;
}
