import { z } from 'zod';
import { applySettingsPatch, connectionSettingsPatchSchema, defaultChangeGuard, type ConnectionRecord, type ConnectionSettings } from '../connections/connection';
import type { DirectoryDeps } from '../directory/directory-deps';
import { listGroupMemberIds } from '../directory/group-memberships';
import { toUser, type UserRecord } from '../directory/user-records';
import type { User } from '../directory/user-schemas';
import { ApiError } from '../errors';
import { importApiError, readFailure, type ImportFailure } from '../import/import-failures';
import type { M365Directories, M365Person } from '../import/m365-directory';
import { readableConnection } from '../import/preview-m365-users';
import type { Condition, DocumentStore } from '../ports/document-store';
import { readGroupSyncRecord } from '../group-sync/group-sync-record';
import { readGroupBinding } from '../provisioning/binding-records';
import { desiredAttributes, differingAttributes, type ExportAttributeRule } from '../provisioning/attribute-mapping';
import { isBound, type UserBindingRecord } from '../provisioning/binding';
import type { M365Attributes, M365User } from '../provisioning/m365-user-gateway';
import { isProtected, privilegeOf } from '../provisioning/privileged-accounts';
import { guardLimit } from '../reconcile/deactivation-guard';
import { countActiveBindings } from '../reconcile/store-deactivation-guard';
import { err, ok, type Result } from '../result';

const idSchema = z.string().min(1).max(128);
const targetsSchema = z
  .strictObject({
    userIds: z.array(idSchema).min(1).max(10_000).optional(),
    groupIds: z.array(idSchema).min(1).max(100).optional(),
  })
  .refine((t) => t.userIds !== undefined || t.groupIds !== undefined, 'give userIds, groupIds or both');

/** POST /connections/{id}/plan: exactly one change to plan. */
export const planRequestSchema = z.union([
  z.strictObject({ settings: connectionSettingsPatchSchema.meta({ description: 'A settings change, as PATCH /connections/{id} would make it' }) }),
  z.strictObject({ bind: targetsSchema.meta({ description: 'Users and groups to bind' }) }),
  z.strictObject({ unbind: targetsSchema.meta({ description: 'Users and groups to unbind' }) }),
  z.strictObject({ reconcile: z.literal(true).meta({ description: 'A full reconcile of every binding' }) }),
]);
export type PlanRequest = z.output<typeof planRequestSchema>;

export const planActions = ['create', 'take_over', 'update', 'disable'] as const;
export type PlanAction = (typeof planActions)[number];
export const planWarnings = ['privileged', 'blanks_value', 'upn_rename'] as const;
export type PlanWarning = (typeof planWarnings)[number];

/**
 * One attribute a write would change, with what the account holds now (`from`) and what it would hold (`to`).
 * The attribute `manager` is the manager link: the manager's object id (or, for a manager whose
 * account the same change would create, the userPrincipalName it would be created with), null for none;
 * `from` is the link this service last wrote or imported, which is what provisioning compares with.
 */
export interface PlannedChange {
  readonly attribute: string;
  readonly from: unknown;
  readonly to: unknown;
}

/** What would happen to one directory user's account. Only accounts something would happen to are listed. */
export interface PlannedAccount {
  readonly userId: string;
  readonly email: string;
  readonly m365UserId?: string;
  readonly userPrincipalName?: string;
  readonly action: PlanAction;
  readonly changes: readonly PlannedChange[];
  /** A pending directory password would be set. */
  readonly passwordSet?: true;
  readonly warnings: readonly PlanWarning[];
}

/**
 * What group sync would do to the Microsoft 365 security group of one directory group a bind names:
 * the accounts it would add and remove (object ids, or the userPrincipalName of an account the same
 * change would create). `m365GroupId` is the group it is linked to; without one the group would be
 * created (or an existing group of the same name taken over, whose members are not read).
 */
export interface PlannedMembership {
  readonly groupId: string;
  readonly m365GroupId?: string;
  readonly add: readonly string[];
  readonly remove: readonly string[];
}

export interface PlanTotals {
  /** Directory users the change concerns. */
  readonly users: number;
  readonly create: number;
  readonly takeOver: number;
  readonly update: number;
  readonly disable: number;
  readonly passwordSet: number;
  /** Accounts whose manager link would be set, changed or removed. */
  readonly manager: number;
  /** Members group sync would add to, and remove from, the bound groups' Microsoft 365 groups. */
  readonly memberAdd: number;
  readonly memberRemove: number;
  readonly unchanged: number;
}

/** What the mass-change guard makes of a plan: accounts it would write to (creates aside) against the connection's limit. */
export interface PlanGuard {
  readonly changing: number;
  readonly limit: number;
  /** The change is beyond the guard: a settings change needs the plan's id as confirmation. */
  readonly exceeded: boolean;
}

export interface PlanView {
  readonly connectionId: string;
  readonly kind: 'settings' | 'bind' | 'unbind' | 'reconcile';
  readonly createdAt: string;
  /** The connection as planned against (its `updatedAt`): a plan of a connection changed since is stale. */
  readonly basedOn: string;
  readonly guard: PlanGuard;
  readonly totals: PlanTotals;
  /** How many planned accounts carry each warning. */
  readonly warnings: Readonly<Record<PlanWarning, number>>;
  /** Graph reads the plan made (list pages and other requests); it never writes. */
  readonly graphReads: { readonly userPages: number; readonly otherRequests: number };
  /** A bind of groups: the members each group's Microsoft 365 group would gain and lose. */
  readonly memberships: readonly PlannedMembership[];
  readonly accounts: readonly PlannedAccount[];
}

export interface PlanDeps extends DirectoryDeps {
  readonly directories: M365Directories;
}

export type PlanFailure = ImportFailure | { readonly code: 'user_not_found' | 'group_not_found'; readonly message: string };

/** The admin API's answer to a plan that could not be made. */
export function planApiError(failure: PlanFailure): ApiError {
  switch (failure.code) {
    case 'user_not_found':
    case 'group_not_found':
      return new ApiError('NOT_FOUND', failure.message);
    default:
      return importApiError(failure);
  }
}

/** A directory user the change concerns, with its binding here (if any) and whether it is bound once the change is made. */
interface Subject {
  readonly user: User;
  readonly binding: UserBindingRecord | undefined;
  readonly boundAfter: boolean;
}

const storePage = 1000;

async function queryAll<T>(store: DocumentStore, container: 'users' | 'bindings', spec: { pk?: string; where: Condition[] }): Promise<T[]> {
  const found: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query<T>(container, { ...spec, limit: storePage, ...(cursor === undefined ? {} : { cursor }) });
    for (const doc of page.items) found.push(doc.data);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

async function usersById(store: DocumentStore, ids: readonly string[]): Promise<Map<string, User>> {
  const users = new Map<string, User>();
  for (let i = 0; i < ids.length; i += storePage) {
    for (const record of await queryAll<UserRecord>(store, 'users', { where: [{ field: 'id', op: 'in', values: ids.slice(i, i + storePage) }] })) users.set(record.id, toUser(record));
  }
  return users;
}

async function bindingsOf(store: DocumentStore, connectionId: string, userIds?: readonly string[]): Promise<Map<string, UserBindingRecord>> {
  const bindings = new Map<string, UserBindingRecord>();
  if (userIds === undefined) {
    for (const b of await queryAll<UserBindingRecord>(store, 'bindings', { pk: connectionId, where: [{ field: 'kind', op: 'eq', value: 'user' }] })) bindings.set(b.userId, b);
    return bindings;
  }
  for (let i = 0; i < userIds.length; i += storePage) {
    const where: Condition[] = [
      { field: 'kind', op: 'eq', value: 'user' },
      { field: 'userId', op: 'in', values: userIds.slice(i, i + storePage) },
    ];
    for (const b of await queryAll<UserBindingRecord>(store, 'bindings', { pk: connectionId, where })) bindings.set(b.userId, b);
  }
  return bindings;
}

/** The user ids a bind or unbind names: the users, and the members of the groups. */
async function targetUserIds(deps: PlanDeps, targets: { userIds?: readonly string[] | undefined; groupIds?: readonly string[] | undefined }): Promise<Result<string[], PlanFailure>> {
  const ids = new Set(targets.userIds ?? []);
  for (const groupId of targets.groupIds ?? []) {
    let cursor: string | undefined;
    do {
      const page = await listGroupMemberIds(deps, groupId, { limit: storePage, ...(cursor === undefined ? {} : { cursor }) });
      if (!page.ok) return err({ code: 'group_not_found', message: `group ${groupId} not found` });
      for (const member of page.value.items) ids.add(member.userId);
      cursor = page.value.nextCursor;
    } while (cursor !== undefined);
  }
  return ok([...ids]);
}

async function subjectsOf(deps: PlanDeps, connection: ConnectionRecord, request: PlanRequest): Promise<Result<Subject[], PlanFailure>> {
  if ('bind' in request || 'unbind' in request) {
    const targets = 'bind' in request ? request.bind : request.unbind;
    const ids = await targetUserIds(deps, targets);
    if (!ids.ok) return ids;
    const users = await usersById(deps.store, ids.value);
    const missing = (targets.userIds ?? []).find((id) => !users.has(id));
    if (missing !== undefined) return err({ code: 'user_not_found', message: `user ${missing} not found` });
    const bindings = await bindingsOf(deps.store, connection.id, ids.value);
    const subjects: Subject[] = [];
    for (const user of users.values()) {
      const binding = bindings.get(user.id);
      // Unbinding concerns only users bound here; binding only users whose domain the connection claims.
      if ('unbind' in request && (binding === undefined || !isBound(binding.via))) continue;
      if ('bind' in request && !connection.domains.includes(user.email.slice(user.email.lastIndexOf('@') + 1))) continue;
      subjects.push({ user, binding, boundAfter: 'bind' in request });
    }
    return ok(subjects);
  }
  const bindings = [...(await bindingsOf(deps.store, connection.id)).values()].filter((b) => isBound(b.via) || (b.m365UserId !== undefined && b.state !== 'deprovisioned'));
  const users = await usersById(
    deps.store,
    bindings.map((b) => b.userId),
  );
  return ok(bindings.flatMap((binding) => {
    const user = users.get(binding.userId);
    return user === undefined ? [] : [{ user, binding, boundAfter: isBound(binding.via) }];
  }));
}

function isEmptyValue(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.values(value as Record<string, unknown>).every((v) => v === null || v === undefined);
  return false;
}

function changesOf(patch: M365Attributes, account: M365User | undefined): PlannedChange[] {
  return Object.entries(patch).map(([attribute, to]) => ({ attribute, from: account === undefined ? null : (account[attribute] ?? null), to }));
}

/**
 * Plans a change without making it: reads the directory (bindings and users, in store pages) and
 * the tenant (Graph list pages of users with `$select`, the privileged role holders), and answers
 * per account what provisioning would write. Nothing is written, to Microsoft 365 or the store.
 */
export async function planChange(deps: PlanDeps, connectionId: string, request: PlanRequest, progress: { onUserPage?: (userPages: number) => Promise<void> } = {}): Promise<Result<PlanView, PlanFailure>> {
  const readable = await readableConnection(deps.store, connectionId);
  if (!readable.ok) return readable;
  const connection = readable.value;
  const settings: ConnectionSettings = 'settings' in request ? applySettingsPatch(connection.settings, request.settings) : connection.settings;
  const subjects = await subjectsOf(deps, connection, request);
  if (!subjects.ok) return subjects;

  const rules: ReadonlySet<ExportAttributeRule> = new Set(settings.exportAttributes);
  const desired = new Map<string, M365Attributes>();
  const byId = new Map<string, Subject>();
  const byUpn = new Map<string, Subject>();
  for (const subject of subjects.value) {
    const { user, binding, boundAfter } = subject;
    const wanted = desiredAttributes(user, rules, boundAfter && user.state === 'active', { kept: binding?.keptNames, emptyValues: settings.emptyValues, valued: binding?.valuedProperties });
    desired.set(user.id, wanted);
    if (binding?.m365UserId !== undefined) byId.set(binding.m365UserId.toLowerCase(), subject);
    else if (boundAfter) byUpn.set(String(wanted.userPrincipalName).toLowerCase(), subject);
  }

  // One pass over the tenant's users in Graph's largest pages; only the accounts the plan needs are kept.
  const directory = deps.directories.forConnection(connectionId);
  const accounts = new Map<string, M365User>();
  const takenUpns = new Map<string, M365User>();
  let userPages = 0;
  let link: string | undefined;
  if (byId.size > 0 || byUpn.size > 0) {
    do {
      const page = await directory.listUsers(link === undefined ? {} : { page: link });
      if (!page.ok) return err(readFailure(page.error));
      userPages += 1;
      await progress.onUserPage?.(userPages);
      for (const person of page.value.items) {
        const account = person as M365Person & M365User;
        const id = person.id.toLowerCase();
        if (byId.has(id)) accounts.set(id, account);
        const upn = person.userPrincipalName.toLowerCase();
        if (byUpn.has(upn)) takenUpns.set(upn, account);
      }
      link = page.value.nextPage;
    } while (link !== undefined);
  }
  const holders = await directory.privilegedRoleHolders();
  if (!holders.ok) return err(readFailure(holders.error));

  const bindsGroups = 'bind' in request && request.bind.groupIds !== undefined;
  const linked = rules.has('manager') || bindsGroups ? await accountsAfter(deps.store, connection.id, subjects.value, desired, takenUpns) : undefined;
  const managers = rules.has('manager') ? linked : undefined;
  let memberships: PlannedMembership[] = [];
  let groupPages = 0;
  if ('bind' in request && linked !== undefined) {
    const planned = await plannedMemberships(deps, connection.id, request.bind.groupIds ?? [], subjects.value, linked);
    if (!planned.ok) return planned;
    memberships = planned.value.memberships;
    groupPages = planned.value.pages;
  }
  const planned: PlannedAccount[] = [];
  let unchanged = 0;
  for (const subject of subjects.value) {
    const manager = managers === undefined ? undefined : managerChangeOf(subject, managers);
    const entry = planAccount(connection, holders.value, subject, desired.get(subject.user.id) as M365Attributes, accounts, takenUpns, manager);
    if (entry === undefined) unchanged += 1;
    else planned.push(entry);
  }
  const count = (action: PlanAction) => planned.filter((p) => p.action === action).length;
  const warned = (warning: PlanWarning) => planned.filter((p) => p.warnings.includes(warning)).length;
  const changing = planned.length - count('create');
  // The connection's guard as it is now: a settings change cannot loosen the guard that judges it.
  const limit = guardLimit(connection.settings.changeGuard ?? defaultChangeGuard, await countActiveBindings(deps.store, connectionId));
  return ok({
    connectionId,
    kind: 'settings' in request ? 'settings' : 'bind' in request ? 'bind' : 'unbind' in request ? 'unbind' : 'reconcile',
    createdAt: deps.clock.now().toISOString(),
    basedOn: connection.updatedAt,
    guard: { changing, limit, exceeded: changing > limit },
    totals: { users: subjects.value.length, create: count('create'), takeOver: count('take_over'), update: count('update'), disable: count('disable'), passwordSet: planned.filter((p) => p.passwordSet === true).length, manager: planned.filter((p) => p.changes.some((c) => c.attribute === 'manager')).length,
      memberAdd: memberships.reduce((n, m) => n + m.add.length, 0),
      memberRemove: memberships.reduce((n, m) => n + m.remove.length, 0),
      unchanged,
    },
    warnings: { privileged: warned('privileged'), blanks_value: warned('blanks_value'), upn_rename: warned('upn_rename') },
    graphReads: { userPages, otherRequests: 2 + groupPages },
    memberships,
    accounts: planned,
  });
}

/**
 * The account of each user bound once the change is made, by directory user id: a subject's own
 * account (linked, taken over, or the UPN it would be created with), and the account of every
 * manager of a subject whose binding here is bound and provisioned. Managers with no such account
 * are left out: provisioning skips their link until the account exists.
 */
async function accountsAfter(store: DocumentStore, connectionId: string, subjects: readonly Subject[], desired: ReadonlyMap<string, M365Attributes>, takenUpns: ReadonlyMap<string, M365User>): Promise<Map<string, string>> {
  const linked = new Map<string, string>();
  const unlinked = new Set<string>();
  for (const { user, binding, boundAfter } of subjects) {
    if (!boundAfter) {
      unlinked.add(user.id);
      continue;
    }
    const upn = String(desired.get(user.id)?.userPrincipalName);
    linked.set(user.id, binding?.m365UserId ?? takenUpns.get(upn.toLowerCase())?.id ?? upn);
  }
  const others = [...new Set(subjects.flatMap((s) => (s.boundAfter && typeof s.user.managerId === 'string' && !linked.has(s.user.managerId) && !unlinked.has(s.user.managerId) ? [s.user.managerId] : [])))];
  for (const binding of (await bindingsOf(store, connectionId, others)).values()) {
    if (isBound(binding.via) && binding.m365UserId !== undefined) linked.set(binding.userId, binding.m365UserId);
  }
  return linked;
}

/**
 * The member changes group sync would make for each group a bind names, as `syncMembers` decides
 * them: the group's members bound once the change is made and active belong; the linked Microsoft
 * 365 group's other members go. The linked group's members are read in list pages.
 */
async function plannedMemberships(deps: PlanDeps, connectionId: string, groupIds: readonly string[], subjects: readonly Subject[], linked: ReadonlyMap<string, string>): Promise<Result<{ memberships: PlannedMembership[]; pages: number }, PlanFailure>> {
  const directory = deps.directories.forConnection(connectionId);
  const memberships: PlannedMembership[] = [];
  let pages = 0;
  const active = new Map(subjects.filter((s) => s.boundAfter).map((s) => [s.user.id, s.user.state === 'active']));
  for (const groupId of groupIds) {
    const include = new Set<string>();
    const userIds: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listGroupMemberIds(deps, groupId, { limit: storePage, ...(cursor === undefined ? {} : { cursor }) });
      if (!page.ok) return err({ code: 'group_not_found', message: `group ${groupId} not found` });
      userIds.push(...page.value.items.map((m) => m.userId));
      cursor = page.value.nextCursor;
    } while (cursor !== undefined);
    for (const userId of userIds) {
      const account = linked.get(userId);
      if (active.get(userId) === true && account !== undefined) include.add(account.toLowerCase());
    }
    const m365GroupId = (await readGroupSyncRecord(deps.store, connectionId, groupId))?.data.m365GroupId ?? (await readGroupBinding(deps.store, connectionId, groupId))?.data.m365GroupId;
    const actual = new Set<string>();
    let link: string | undefined;
    if (m365GroupId !== undefined) {
      do {
        const page = await directory.listGroupMembers(m365GroupId, link);
        if (!page.ok) return err(readFailure(page.error));
        pages += 1;
        for (const member of page.value.items) actual.add(member.id.toLowerCase());
        link = page.value.nextPage;
      } while (link !== undefined);
    }
    memberships.push({
      groupId,
      ...(m365GroupId === undefined ? {} : { m365GroupId }),
      add: [...include].filter((id) => !actual.has(id)),
      remove: [...actual].filter((id) => !include.has(id)),
    });
  }
  return ok({ memberships, pages });
}

/** The manager link provisioning would write for a subject (as `managerChange` of the worker decides it), or undefined. */
function managerChangeOf({ user, binding, boundAfter }: Subject, managers: ReadonlyMap<string, string>): PlannedChange | undefined {
  if (!boundAfter) return undefined;
  const current = binding?.managerM365Id ?? null;
  if (typeof user.managerId !== 'string') return current === null ? undefined : { attribute: 'manager', from: current, to: null };
  const to = managers.get(user.managerId);
  return to === undefined || to === current ? undefined : { attribute: 'manager', from: current, to };
}

/** What provisioning would do for one user, as `provisionUser` decides it; undefined when nothing. */
function planAccount(connection: ConnectionRecord, holders: ReadonlySet<string>, subject: Subject, wanted: M365Attributes, accounts: ReadonlyMap<string, M365User>, takenUpns: ReadonlyMap<string, M365User>, manager: PlannedChange | undefined): PlannedAccount | undefined {
  const { user, binding, boundAfter } = subject;
  const linked = binding?.m365UserId === undefined ? undefined : accounts.get(binding.m365UserId.toLowerCase());
  const passwordSet = boundAfter && binding?.passwordPending === true;
  let action: PlanAction;
  let account: M365User | undefined = linked;
  let patch: M365Attributes;
  if (!boundAfter) {
    if (linked === undefined || linked.accountEnabled === false) return undefined;
    action = 'disable';
    patch = { accountEnabled: false };
  } else if (linked !== undefined) {
    patch = differingAttributes(wanted, linked);
    if (Object.keys(patch).length === 0 && !passwordSet && manager === undefined) return undefined;
    action = patch.accountEnabled === false ? 'disable' : 'update';
  } else {
    account = takenUpns.get(String(wanted.userPrincipalName).toLowerCase());
    if (account !== undefined) {
      action = 'take_over';
      patch = differingAttributes(wanted, account);
    } else {
      action = 'create';
      patch = Object.fromEntries(Object.entries(wanted).filter(([, value]) => !isEmptyValue(value)));
    }
  }
  const changes = [...changesOf(patch, account), ...(manager === undefined ? [] : [manager])];
  const warnings: PlanWarning[] = [];
  if (account !== undefined && isProtected(privilegeOf(connection, holders, account.id))) warnings.push('privileged');
  if (account !== undefined && changes.some((c) => !isEmptyValue(c.from) && isEmptyValue(c.to))) warnings.push('blanks_value');
  if (account !== undefined && action !== 'take_over' && typeof patch.userPrincipalName === 'string') warnings.push('upn_rename');
  return {
    userId: user.id,
    email: user.email,
    ...(account === undefined ? {} : { m365UserId: account.id, userPrincipalName: account.userPrincipalName }),
    action,
    changes,
    ...(passwordSet ? { passwordSet: true as const } : {}),
    warnings,
  };
}
