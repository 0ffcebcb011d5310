import type { ConnectionRecord } from '../connections/connection';
import type { DirectoryDeps } from '../directory/directory-deps';
import { createUserSchema, usernameSchema, type CreateUserInput, type UserPatch } from '../directory/user-schemas';
import { createUser, getUser, setUserState, updateUser } from '../directory/users';
import { linkExistingAccount, type BindingDeps } from '../provisioning/bind-user';
import { domainOf, importEmail, resolveStatuses, type ResolvedStatus } from './import-status';
import type { M365Person } from './m365-directory';
import { importedProfile, importedProfileFields } from './person-profile';

/** What importing needs: binding (provisioning) and the directory's use cases. */
export interface ImportUserDeps extends BindingDeps, DirectoryDeps {}

export type UserOutcome =
  | { readonly outcome: 'imported'; readonly userId: string; readonly linked?: true }
  | { readonly outcome: 'skipped'; readonly userId: string; readonly reason: string }
  | { readonly outcome: 'failed'; readonly reason: string };

/** The reason of a user whose email a directory user already has, under the conflict policy `fail` (JumpCloud's wording). */
export const emailConflictReason = 'an account with the same email already exists';

/** A failure the page should be retried for (the connection changed under it, writers kept colliding). */
export class ImportRetryError extends Error {
  readonly code = 'IMPORT_RETRY' as const;

  constructor(message: string) {
    super(message);
    this.name = 'ImportRetryError';
  }
}

/**
 * The directory user a Microsoft 365 user becomes (DESIGN.md "Attribute mapping", import reads):
 * the email, mailNickname as the username when the directory accepts it as one (else the email's
 * local part, the directory's default), and every profile value an export rule could write.
 */
function directoryInput(person: M365Person, email: string): { input: CreateUserInput } | { reason: string } {
  const nickname = usernameSchema.safeParse(person.mailNickname ?? '');
  const parsed = createUserSchema.safeParse({
    email,
    ...(nickname.success ? { username: nickname.data } : {}),
    ...importedProfile(person),
  });
  if (parsed.success) return { input: parsed.data };
  const issue = parsed.error.issues[0];
  return { reason: `the directory cannot take this user: ${issue === undefined ? 'invalid' : `${issue.path.join('.')}: ${issue.message}`}` };
}

/**
 * Imports one Microsoft 365 user whose status was resolved with its page. `plannedUserId` was
 * recorded before the page started, so a retry after a crash recognises the directory user it
 * created itself (and finishes it) instead of taking it for a conflict: nobody is imported twice.
 */
export async function importUser(deps: ImportUserDeps, connection: ConnectionRecord, person: M365Person, resolved: ResolvedStatus, plannedUserId: string, options: { readonly refresh: boolean } = { refresh: false }): Promise<UserOutcome> {
  const email = importEmail(person);
  if (email === undefined) return { outcome: 'failed', reason: `neither the mail nor the userPrincipalName (${person.userPrincipalName}) is a valid email address` };
  return settle(deps, connection, person, email, resolved, plannedUserId, options.refresh);
}

async function settle(deps: ImportUserDeps, connection: ConnectionRecord, person: M365Person, email: string, resolved: ResolvedStatus, plannedUserId: string, refresh = false): Promise<UserOutcome> {
  switch (resolved.status) {
    case 'imported':
      if (resolved.userId === plannedUserId) return { outcome: 'imported', userId: plannedUserId };
      if (refresh) return refreshImported(deps, person, resolved.userId as string);
      return { outcome: 'skipped', userId: resolved.userId as string, reason: 'already imported' };
    case 'other_connection':
      return { outcome: 'failed', reason: `${emailConflictReason} and is bound to another connection (${resolved.boundConnectionId ?? 'unknown'})` };
    case 'conflict':
      if (resolved.userId === plannedUserId) return finishCreated(deps, connection, person, plannedUserId);
      if (connection.settings.conflictPolicy === 'fail') return { outcome: 'failed', reason: emailConflictReason };
      return linkConflicting(deps, connection, person, resolved.userId as string);
    case 'new': {
      // A user is bound to the connection that claims its email's domain (DESIGN.md point 3).
      const domain = domainOf(email);
      if (!connection.domains.includes(domain)) return { outcome: 'failed', reason: `the email domain ${domain} is not claimed by this connection` };
      const built = directoryInput(person, email);
      if ('reason' in built) return { outcome: 'failed', reason: built.reason };
      const created = await createUser(deps, built.input, { id: plannedUserId });
      if (created.ok) return finishCreated(deps, connection, person, plannedUserId);
      switch (created.error.code) {
        case 'email_taken': {
          // Created meanwhile by someone else: judge it as the conflict (or import) it now is.
          const again = (await resolveStatuses(deps.store, connection.id, [person])).get(person.id) ?? { status: 'new' };
          if (again.status === 'new') throw new ImportRetryError(`the email ${email} was taken and released while importing`);
          return settle(deps, connection, person, email, again, plannedUserId, refresh);
        }
        case 'username_taken':
          return { outcome: 'failed', reason: `the username ${created.error.username} (the mailNickname) is already used by another directory user` };
        case 'write_contention':
          throw new ImportRetryError(`the directory kept changing while importing ${email}`);
        default:
          return { outcome: 'failed', reason: `the directory refused the user: ${created.error.code}` };
      }
    }
  }
}

/** Suspends the user created for a disabled account, then binds it: no nudge, no event, nothing written to Microsoft 365. */
async function finishCreated(deps: ImportUserDeps, connection: ConnectionRecord, person: M365Person, userId: string): Promise<UserOutcome> {
  const current = await getUser(deps, userId);
  if (!current.ok) throw new ImportRetryError(`the imported user ${userId} disappeared while importing`);
  let user = current.value.value;
  // Before binding, so the suspension nudges nobody: the account is disabled already.
  if (person.accountEnabled === false && user.state !== 'suspended') {
    const suspended = await setUserState(deps, userId, 'suspended');
    if (!suspended.ok) throw new ImportRetryError(`could not suspend the imported user ${userId}: ${suspended.error.code}`);
    user = suspended.value.value;
  }
  const linked = await linkExistingAccount(deps, connection, user, person.id, { push: false, names: person });
  if (linked.ok) return { outcome: 'imported', userId };
  if (linked.error.code === 'connection_not_active') throw new ImportRetryError(linked.error.message);
  return { outcome: 'failed', reason: linked.error.message };
}

/** Conflict policy `link`: the existing directory user is bound to the account, and the next pass pushes the directory's attributes. */
async function linkConflicting(deps: ImportUserDeps, connection: ConnectionRecord, person: M365Person, userId: string): Promise<UserOutcome> {
  const existing = await getUser(deps, userId);
  if (!existing.ok) throw new ImportRetryError(`the directory user ${userId} holding the email disappeared while importing`);
  const linked = await linkExistingAccount(deps, connection, existing.value.value, person.id, { push: true });
  if (linked.ok) return { outcome: 'imported', userId, linked: true };
  switch (linked.error.code) {
    case 'connection_not_active':
      throw new ImportRetryError(linked.error.message);
    case 'bound_elsewhere':
      return { outcome: 'failed', reason: `${emailConflictReason} and is bound to another connection (${linked.error.connectionId})` };
    case 'linked_to_other_account':
      return { outcome: 'failed', reason: `${emailConflictReason} and is bound to another Microsoft 365 account (${linked.error.m365UserId})` };
    default:
      return { outcome: 'failed', reason: linked.error.message };
  }
}

/**
 * `refresh: true`: the directory user of an account imported before takes the profile values the
 * account holds now, and loses those it no longer holds. Nothing is written to Microsoft 365: the
 * account already holds every value, so provisioning finds nothing to change.
 */
async function refreshImported(deps: ImportUserDeps, person: M365Person, userId: string): Promise<UserOutcome> {
  const current = await getUser(deps, userId);
  if (!current.ok) return { outcome: 'failed', reason: `the directory user ${userId} bound to this account could not be read: ${current.error.code}` };
  const profile: Record<string, unknown> = importedProfile(person);
  const user: Record<string, unknown> = current.value.value;
  const patch: Record<string, unknown> = {};
  for (const field of importedProfileFields) {
    const value = profile[field] ?? null;
    if (JSON.stringify(value) !== JSON.stringify(user[field] ?? null)) patch[field] = value;
  }
  if (Object.keys(patch).length === 0) return { outcome: 'skipped', userId, reason: 'already imported; its attributes match Microsoft 365' };
  const updated = await updateUser(deps, userId, patch as UserPatch, { ifMatch: current.value.etag });
  if (!updated.ok) {
    if (updated.error.code === 'version_mismatch' || updated.error.code === 'write_contention') throw new ImportRetryError(`the directory user ${userId} changed while its attributes were read again`);
    return { outcome: 'failed', reason: `the directory refused the attributes read again: ${updated.error.code}` };
  }
  return { outcome: 'skipped', userId, reason: `already imported; read again from Microsoft 365: ${Object.keys(patch).sort().join(', ')}` };
}
