import { randomUUID } from 'node:crypto';
import type { ConnectionRecord } from '../connections/connection';
import { toUser, type UserRecord } from '../directory/user-records';
import type { User } from '../directory/user-schemas';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { MessageSender } from '../ports/work-queue';
import { err, ok, type Result } from '../result';
import { mailNicknameOf, valuedProperties } from './attribute-mapping';
import { bindingClaimKey, isBound, toUserBindingView, type BindingVia, type KeptNames, type UserBindingRecord, type UserBindingView } from './binding';
import { mutateUserBinding, readUserBinding } from './binding-records';
import { bindingNotice, type NoticeSender } from './binding-notice';
import { nextChange, sendNudges, type NudgeReason } from './nudges';

/** What binding and unbinding need; `Services` plus the provisioning adapters satisfy it. */
export interface BindingDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sender: MessageSender;
  readonly notices: NoticeSender;
}

/** Why a bind or unbind is refused; `code` narrows. */
export type BindingRefusal =
  | { readonly code: 'connection_not_found'; readonly message: string }
  | { readonly code: 'user_not_found'; readonly message: string }
  | { readonly code: 'group_not_found'; readonly message: string }
  | { readonly code: 'binding_not_found'; readonly message: string }
  /** The connection is not `active` (pending consent, waiting for re-consent, paused, de-authorized). */
  | { readonly code: 'connection_not_active'; readonly message: string }
  /** The user's email domain is not one this connection claims. */
  | { readonly code: 'domain_not_claimed'; readonly message: string }
  | { readonly code: 'bound_elsewhere'; readonly message: string; readonly connectionId: string }
  /** Unbinding a user who stays bound through groups. */
  | { readonly code: 'bound_through_group'; readonly message: string; readonly groupIds: readonly string[] };

interface BindingClaim {
  readonly userId: string;
  readonly connectionId: string;
  readonly claimedAt: string;
}

/** Where a binding comes from: the admin binding the user, or a bound group the user is a member of. */
export type BindingSource = { readonly direct: true } | { readonly groupId: string };

export function emailDomain(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

export async function readConnection(store: DocumentStore, connectionId: string): Promise<ConnectionRecord | undefined> {
  return (await store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
}

export async function readDirectoryUser(store: DocumentStore, userId: string): Promise<User | undefined> {
  const doc = await store.get<UserRecord>('users', userId, userId);
  return doc === undefined ? undefined : toUser(doc.data);
}

/** The connection a user is bound to, if any (its `binding:<userId>` claim). */
export async function boundConnectionOf(store: DocumentStore, userId: string): Promise<string | undefined> {
  const key = bindingClaimKey(userId);
  return (await store.get<BindingClaim>('uniques', key, key))?.data.connectionId;
}

/**
 * Claims the user for the connection, race-safe. A claim whose connection holds no live binding
 * of the user (left by an interrupted unbind or a de-authorization) is taken over.
 */
async function claimUser(deps: BindingDeps, userId: string, connectionId: string): Promise<Result<void, string>> {
  const key = bindingClaimKey(userId);
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const mine: BindingClaim = { userId, connectionId, claimedAt: deps.clock.now().toISOString() };
    const created = await deps.store.create<BindingClaim>('uniques', key, key, mine);
    if (created.ok) return ok(undefined);
    const existing = await deps.store.get<BindingClaim>('uniques', key, key);
    if (existing === undefined) continue;
    const holder = existing.data.connectionId;
    if (holder === connectionId) return ok(undefined);
    const theirs = await readUserBinding(deps.store, holder, userId);
    if (theirs !== undefined && isBound(theirs.data.via)) return err(holder);
    const replaced = await deps.store.replace<BindingClaim>('uniques', key, key, mine, { ifMatch: existing.etag });
    if (replaced.ok) return ok(undefined);
  }
  throw new Error(`binding claim of user ${userId} kept changing hands`);
}

/** Releases the user's claim if this connection holds it and the binding there is unbound. */
async function releaseClaim(deps: BindingDeps, userId: string, connectionId: string): Promise<void> {
  const key = bindingClaimKey(userId);
  const existing = await deps.store.get<BindingClaim>('uniques', key, key);
  if (existing === undefined || existing.data.connectionId !== connectionId) return;
  const binding = await readUserBinding(deps.store, connectionId, userId);
  // Bound again meanwhile (a group expansion): the claim is still needed.
  if (binding !== undefined && isBound(binding.data.via)) return;
  await deps.store.delete('uniques', key, key, { ifMatch: existing.etag });
}

function sameVia(a: BindingVia, b: BindingVia): boolean {
  return a.direct === b.direct && a.groups.length === b.groups.length && a.groups.every((g) => b.groups.includes(g));
}

function withSource(via: BindingVia, source: BindingSource): BindingVia {
  if ('direct' in source) return { ...via, direct: true };
  return via.groups.includes(source.groupId) ? via : { ...via, groups: [...via.groups, source.groupId] };
}

function withoutSource(via: BindingVia, source: BindingSource | 'all'): BindingVia {
  if (source === 'all') return { direct: false, groups: [] };
  if ('direct' in source) return { ...via, direct: false };
  return { ...via, groups: via.groups.filter((g) => g !== source.groupId) };
}

function newBinding(connectionId: string, userId: string, via: BindingVia, now: string): UserBindingRecord {
  return {
    kind: 'user',
    connectionId,
    userId,
    incarnation: randomUUID(),
    state: 'pending',
    via,
    changeSeq: 1,
    handledChangeSeq: 0,
    guardedChangeSeq: 1,
    attempts: 0,
    linkCount: 0,
    writeSeq: 0,
    passwordPending: false,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * What binding and linking both need first: an active connection that claims the user's email
 * domain, and the user's claim on it (a user is bound to one connection only).
 */
async function admitUser(deps: BindingDeps, connection: ConnectionRecord, user: User): Promise<Result<void, BindingRefusal>> {
  if (connection.status !== 'active') {
    return err({ code: 'connection_not_active', message: `connection ${connection.id} is ${connection.status}; only an active connection can bind users` });
  }
  const domain = emailDomain(user.email);
  if (!connection.domains.includes(domain)) {
    return err({ code: 'domain_not_claimed', message: `the domain of ${user.email} (${domain}) is not claimed by connection ${connection.id} (${connection.domains.join(', ') || 'no domains'})` });
  }
  const claimed = await claimUser(deps, user.id, connection.id);
  if (!claimed.ok) {
    return err({ code: 'bound_elsewhere', connectionId: claimed.error, message: `user ${user.id} is bound to connection ${claimed.error}; a user can be bound to one connection only` });
  }
  return ok(undefined);
}

/**
 * Binds a user to an active connection that claims the user's email domain, directly or through a
 * group. Binding again is harmless; a binding in `error` is retried. Sends the nudge and, for a new
 * binding, the employee's notice.
 */
/** What the admin says when binding: `allowPrivileged` lets provisioning disable, re-password and rename a privileged account. */
export interface BindOptions {
  readonly allowPrivileged?: boolean;
}

export async function attachUser(deps: BindingDeps, connection: ConnectionRecord, user: User, source: BindingSource, options: BindOptions = {}): Promise<Result<UserBindingRecord, BindingRefusal>> {
  const admitted = await admitUser(deps, connection, user);
  if (!admitted.ok) return admitted;
  const now = deps.clock.now().toISOString();
  let bumped = false;
  let newlyBound = false;
  const stored = await mutateUserBinding(deps.store, connection.id, user.id, (current) => {
    const allow = options.allowPrivileged === true ? { allowPrivileged: true } : {};
    if (current === undefined) {
      bumped = true;
      newlyBound = true;
      return { ...newBinding(connection.id, user.id, withSource({ direct: false, groups: [] }, source), now), ...allow };
    }
    const via = withSource(current.via, source);
    newlyBound = !isBound(current.via);
    const allowChanged = options.allowPrivileged !== undefined && options.allowPrivileged !== (current.allowPrivileged === true);
    // Binding again retries a binding stuck in error; a change of allowPrivileged is worth a new run too.
    bumped = newlyBound || current.state === 'error' || allowChanged;
    if (!bumped && sameVia(via, current.via)) return undefined;
    return {
      ...current,
      ...(allowChanged ? { allowPrivileged: options.allowPrivileged === true ? true : undefined } : {}),
      via,
      ...(bumped ? { ...nextChange(current, 'bind'), state: 'pending' as const, attempts: 0 } : {}),
      updatedAt: now,
    };
  });
  const binding = (stored as NonNullable<typeof stored>).data;
  // Work still outstanding is nudged again: the first nudge may have been lost with a failed request
  // (the same change number makes a duplicate collapse).
  if (bumped || binding.handledChangeSeq < binding.changeSeq) {
    await sendNudges(deps.sender, [{ kind: 'user', connectionId: connection.id, userId: user.id, changeSeq: binding.changeSeq, reason: 'bind', hop: 0 }]);
  }
  if (newlyBound) {
    await deps.notices.send(bindingNotice(connection, user, binding));
    deps.logger.info('user bound', { connectionId: connection.id, userId: user.id, via: 'direct' in source ? 'direct' : `group:${source.groupId}` });
  }
  return ok(binding);
}

/**
 * Removes one source of a user's binding; when none is left the user is unbound: the claim is
 * released and the nudge deactivates the Microsoft 365 account. Returns undefined when there was
 * no binding.
 */
export async function detachUser(deps: BindingDeps, connectionId: string, userId: string, source: BindingSource | 'all', reason: NudgeReason): Promise<UserBindingRecord | undefined> {
  const now = deps.clock.now().toISOString();
  let unbound = false;
  const stored = await mutateUserBinding(deps.store, connectionId, userId, (current) => {
    if (current === undefined) return undefined;
    const via = withoutSource(current.via, source);
    unbound = isBound(current.via) && !isBound(via);
    if (!unbound && sameVia(via, current.via)) return undefined;
    return { ...current, via, ...(unbound ? { ...nextChange(current, reason), state: 'pending' as const, attempts: 0 } : {}), updatedAt: now };
  });
  if (stored === undefined) return undefined;
  if (unbound) {
    await releaseClaim(deps, userId, connectionId);
    await sendNudges(deps.sender, [{ kind: 'user', connectionId, userId, changeSeq: stored.data.changeSeq, reason, hop: 0 }]);
    deps.logger.info('user unbound', { connectionId, userId, reason });
  }
  return stored.data;
}

/** Bumps the binding's change counter and sends the nudge: the worker brings the account in step. */
export async function nudgeUser(deps: Pick<BindingDeps, 'store' | 'clock' | 'sender'>, connectionId: string, userId: string, reason: NudgeReason, extra: Partial<Pick<UserBindingRecord, 'passwordPending'>> = {}): Promise<boolean> {
  const now = deps.clock.now().toISOString();
  const stored = await mutateUserBinding(deps.store, connectionId, userId, (current) => (current === undefined ? undefined : { ...current, ...extra, ...nextChange(current, reason), updatedAt: now }));
  if (stored === undefined) return false;
  await sendNudges(deps.sender, [{ kind: 'user', connectionId, userId, changeSeq: stored.data.changeSeq, reason, hop: 0 }]);
  return true;
}

/** PUT /connections/{id}/users/{userId}. */
export async function bindUser(deps: BindingDeps, connectionId: string, userId: string, options: BindOptions = {}): Promise<Result<UserBindingView, BindingRefusal>> {
  const connection = await readConnection(deps.store, connectionId);
  if (connection === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  const user = await readDirectoryUser(deps.store, userId);
  if (user === undefined) return err({ code: 'user_not_found', message: `user ${userId} not found` });
  const attached = await attachUser(deps, connection, user, { direct: true }, options);
  return attached.ok ? ok(toUserBindingView(attached.value)) : attached;
}

/** DELETE /connections/{id}/users/{userId}: unbinds, which deactivates the Microsoft 365 account. */
export async function unbindUser(deps: BindingDeps, connectionId: string, userId: string): Promise<Result<UserBindingView, BindingRefusal>> {
  const existing = await readUserBinding(deps.store, connectionId, userId);
  if (existing === undefined) return err({ code: 'binding_not_found', message: `user ${userId} is not bound to connection ${connectionId}` });
  if (!existing.data.via.direct && existing.data.via.groups.length > 0) {
    const groupIds = existing.data.via.groups;
    return err({ code: 'bound_through_group', groupIds, message: `user ${userId} is bound through group${groupIds.length > 1 ? 's' : ''} ${groupIds.join(', ')}; unbind the group or remove the member` });
  }
  const detached = await detachUser(deps, connectionId, userId, { direct: true }, 'unbind');
  if (detached === undefined) return err({ code: 'binding_not_found', message: `user ${userId} is not bound to connection ${connectionId}` });
  return ok(toUserBindingView(detached));
}

/** Linking refused because the user is already bound here to a different Microsoft 365 account. */
export interface LinkedToOtherAccount {
  readonly code: 'linked_to_other_account';
  readonly message: string;
  readonly m365UserId: string;
}

/** The sign-in names an existing account has, and its manager (object id) when it has one. */
export interface AccountNames {
  readonly userPrincipalName: string;
  readonly mailNickname?: string | null;
  readonly managerId?: string;
}

/** The names to keep for an account linked without a push: only where they differ from what the email maps to. */
function keptNamesOf(email: string, account: AccountNames): KeptNames | undefined {
  const mailNickname = account.mailNickname?.trim() || mailNicknameOf(account.userPrincipalName);
  const upnDiffers = account.userPrincipalName.toLowerCase() !== email.toLowerCase();
  const nicknameDiffers = mailNickname.toLowerCase() !== mailNicknameOf(email).toLowerCase();
  return upnDiffers || nicknameDiffers ? { email, userPrincipalName: account.userPrincipalName, mailNickname } : undefined;
}

/**
 * Binds a user directly to a Microsoft 365 account that already exists (an import), anchored on
 * its object id. Without `push` the binding is `provisioned` at once and nothing is sent: the
 * account already holds what the directory took from it, so there is no Graph write and no event.
 * With `push` (the conflict policy `link`) a nudge makes the next pass write the directory's
 * attributes over the account's. Linking again to the same account changes nothing. Without
 * `push`, the account's own `names` are kept where the email would map to others (see KeptNames).
 */
export async function linkExistingAccount(
  deps: BindingDeps,
  connection: ConnectionRecord,
  user: User,
  m365UserId: string,
  options: { readonly push: boolean; readonly names?: AccountNames },
): Promise<Result<UserBindingRecord, BindingRefusal | LinkedToOtherAccount>> {
  const admitted = await admitUser(deps, connection, user);
  if (!admitted.ok) return admitted;
  const now = deps.clock.now().toISOString();
  let linkedElsewhere: string | undefined;
  let changed = false;
  const stored = await mutateUserBinding(deps.store, connection.id, user.id, (current) => {
    linkedElsewhere = undefined;
    changed = false;
    if (current !== undefined && isBound(current.via) && current.m365UserId !== undefined) {
      if (current.m365UserId !== m365UserId) linkedElsewhere = current.m365UserId;
      return undefined;
    }
    changed = true;
    const base = current ?? newBinding(connection.id, user.id, { direct: true, groups: [] }, now);
    const changeSeq = current === undefined ? base.changeSeq : base.changeSeq + (options.push ? 1 : 0);
    return {
      ...base,
      via: withSource(base.via, { direct: true }),
      m365UserId,
      linkCount: base.linkCount + 1,
      keptNames: options.push || options.names === undefined ? undefined : keptNamesOf(user.email, options.names),
      // What the directory holds now is the reference an emptied value is told apart by.
      valuedProperties: valuedProperties(user),
      // The manager the account has is the one set: linking the same one later writes nothing.
      ...(options.push || options.names === undefined ? {} : { managerM365Id: options.names.managerId ?? null }),
      pendingWrite: undefined,
      lastError: undefined,
      attempts: 0,
      changeSeq,
      ...(options.push
        ? { state: 'pending' as const, guardedChangeSeq: changeSeq }
        : // Nothing is owed to Microsoft 365: whatever an earlier binding still had outstanding is settled.
          { state: 'provisioned' as const, handledChangeSeq: changeSeq, lastSyncedAt: now }),
      updatedAt: now,
    };
  });
  if (linkedElsewhere !== undefined) {
    return err({ code: 'linked_to_other_account', m365UserId: linkedElsewhere, message: `user ${user.id} is already bound on connection ${connection.id} to Microsoft 365 account ${linkedElsewhere}` });
  }
  const binding = (stored as NonNullable<typeof stored>).data;
  // Work still outstanding is nudged again: the first nudge may have been lost with a crash.
  if (options.push && binding.handledChangeSeq < binding.changeSeq) {
    await sendNudges(deps.sender, [{ kind: 'user', connectionId: connection.id, userId: user.id, changeSeq: binding.changeSeq, reason: 'bind', hop: 0 }]);
  }
  if (changed) {
    const fields = { connectionId: connection.id, userId: user.id, m365UserId, push: options.push };
    // An import links thousands at a time and reports them in its job; a link that pushes is rarer and worth a line.
    if (options.push) deps.logger.info('user linked to an existing Microsoft 365 account', fields);
    else deps.logger.debug('user linked to an existing Microsoft 365 account', fields);
  }
  return ok(binding);
}
