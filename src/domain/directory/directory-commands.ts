import { z } from 'zod';
import { err, ok, type Result } from '../result';
import type { DirectoryDeps } from './directory-deps';
import type { DirectoryFailure } from './directory-failures';
import { documentIdFor } from './directory-ids';
import { addGroupMember, removeGroupMember } from './group-memberships';
import { createGroupSchema } from './group-schemas';
import { createGroup, findGroupByName, getGroup, updateGroup } from './groups';
import { createUserSchema, emailSchema } from './user-schemas';
import { createUser, deleteUser, findUserByEmail, getUser, setUserState, updateUser } from './users';

/*
 * Automation messages on the `directory-commands` queue. Each names its target by a natural key
 * (email, group name) or by id, so an HR system need not know our ids, and each is idempotent:
 * applying one twice leaves the directory as applying it once does.
 */

const idSchema = z.string().min(1).max(128);
const exactlyOne = (a: string, b: string) => (value: Record<string, unknown>) => (value[a] === undefined) !== (value[b] === undefined);

const userTarget = { email: emailSchema.optional(), userId: idSchema.optional() };
const groupTarget = { groupName: z.string().trim().min(1).max(256).optional(), groupId: idSchema.optional() };

/** One automation command; the user and group bodies are the admin API's create schemas. */
export const directoryCommandSchema = z.discriminatedUnion('command', [
  z.strictObject({ command: z.literal('user.upsert'), user: createUserSchema }),
  z
    .strictObject({ command: z.enum(['user.suspend', 'user.activate', 'user.delete']), ...userTarget })
    .refine(exactlyOne('email', 'userId'), { message: 'give exactly one of email or userId', path: ['email'] }),
  z.strictObject({ command: z.literal('group.upsert'), group: createGroupSchema }),
  z
    .strictObject({ command: z.enum(['group.member.add', 'group.member.remove']), ...groupTarget, ...userTarget })
    .refine(exactlyOne('groupName', 'groupId'), { message: 'give exactly one of groupName or groupId', path: ['groupName'] })
    .refine(exactlyOne('email', 'userId'), { message: 'give exactly one of email or userId', path: ['email'] }),
]);

export type DirectoryCommand = z.output<typeof directoryCommandSchema>;

/** Why a command did not apply: `retry` when it may succeed later (its target may not exist yet), else never. */
export interface CommandFailure {
  readonly retry: boolean;
  readonly reason: string;
}

/** `duplicate`: this message id was applied before (a redelivery) and nothing was done. */
export type CommandOutcome = 'applied' | 'duplicate';

const processedPartition = 'directory-commands:processed';
const processedTtlSeconds = 7 * 24 * 60 * 60;

function failure(cause: DirectoryFailure): CommandFailure {
  switch (cause.code) {
    case 'user_not_found':
      return { retry: true, reason: `user ${cause.userId} not found` };
    case 'group_not_found':
      return { retry: true, reason: `group ${cause.groupId} not found` };
    case 'write_contention':
      return { retry: true, reason: 'the target kept changing concurrently' };
    case 'email_taken':
      return { retry: false, reason: `user.email: ${cause.email} is already used by another user` };
    case 'username_taken':
      return { retry: false, reason: `user.username: ${cause.username} is already used by another user` };
    case 'group_name_taken':
      return { retry: false, reason: `group.name: ${cause.name} is already used by another group` };
    case 'manager_not_found':
      return { retry: true, reason: `user.managerId: user ${cause.managerId} not found` };
    case 'manager_is_self':
      return { retry: false, reason: 'user.managerId: a user cannot be its own manager' };
    case 'email_change_refused':
      return { retry: false, reason: `user.email: ${cause.reason}` };
    case 'password_rejected':
    case 'version_mismatch':
    case 'invalid_cursor':
      return { retry: false, reason: cause.code };
  }
}

async function resolveUserId(deps: DirectoryDeps, target: { email?: string | undefined; userId?: string | undefined }): Promise<string | undefined> {
  if (target.userId !== undefined) return (await getUser(deps, target.userId)).ok ? target.userId : undefined;
  return (await findUserByEmail(deps, target.email ?? ''))?.value.id;
}

async function resolveGroupId(deps: DirectoryDeps, target: { groupName?: string | undefined; groupId?: string | undefined }): Promise<string | undefined> {
  if (target.groupId !== undefined) return (await getGroup(deps, target.groupId)).ok ? target.groupId : undefined;
  return (await findGroupByName(deps, target.groupName ?? ''))?.value.id;
}

function describeTarget(target: { email?: string | undefined; userId?: string | undefined; groupName?: string | undefined; groupId?: string | undefined }): string {
  return target.userId ?? target.email ?? target.groupId ?? target.groupName ?? '';
}

// A create that loses a race to a concurrent upsert of the same key becomes an update on the next pass.
const upsertPasses = 2;

async function upsertUser(deps: DirectoryDeps, input: z.output<typeof createUserSchema>): Promise<Result<unknown, DirectoryFailure>> {
  let outcome: Result<unknown, DirectoryFailure> = err({ code: 'write_contention' });
  for (let pass = 0; pass < upsertPasses; pass++) {
    const existing = await findUserByEmail(deps, input.email);
    if (existing !== undefined) {
      const { email: _email, ...patch } = input;
      return updateUser(deps, existing.value.id, patch);
    }
    outcome = await createUser(deps, input);
    if (outcome.ok || outcome.error.code !== 'email_taken') return outcome;
  }
  return outcome;
}

async function upsertGroup(deps: DirectoryDeps, input: z.output<typeof createGroupSchema>): Promise<Result<unknown, DirectoryFailure>> {
  let outcome: Result<unknown, DirectoryFailure> = err({ code: 'write_contention' });
  for (let pass = 0; pass < upsertPasses; pass++) {
    const existing = await findGroupByName(deps, input.name);
    if (existing !== undefined) return updateGroup(deps, existing.value.id, input);
    outcome = await createGroup(deps, input);
    if (outcome.ok || outcome.error.code !== 'group_name_taken') return outcome;
  }
  return outcome;
}

async function apply(deps: DirectoryDeps, command: DirectoryCommand): Promise<Result<void, CommandFailure>> {
  let result: Result<unknown, DirectoryFailure>;
  switch (command.command) {
    case 'user.upsert':
      result = await upsertUser(deps, command.user);
      break;
    case 'group.upsert':
      result = await upsertGroup(deps, command.group);
      break;
    case 'user.suspend':
    case 'user.activate':
    case 'user.delete': {
      const userId = await resolveUserId(deps, command);
      if (userId === undefined) {
        // Deleting what is not there is done; suspending it may just precede its creation.
        return command.command === 'user.delete' ? ok(undefined) : err({ retry: true, reason: `user ${describeTarget(command)} not found` });
      }
      result = command.command === 'user.delete' ? await deleteUser(deps, userId) : await setUserState(deps, userId, command.command === 'user.suspend' ? 'suspended' : 'active');
      if (!result.ok && result.error.code === 'user_not_found' && command.command === 'user.delete') return ok(undefined);
      break;
    }
    case 'group.member.add':
    case 'group.member.remove': {
      const adding = command.command === 'group.member.add';
      const [groupId, userId] = await Promise.all([resolveGroupId(deps, command), resolveUserId(deps, command)]);
      if (groupId === undefined || userId === undefined) {
        const missing = groupId === undefined ? `group ${describeTarget({ groupName: command.groupName, groupId: command.groupId })}` : `user ${describeTarget(command)}`;
        return adding ? err({ retry: true, reason: `${missing} not found` }) : ok(undefined);
      }
      result = adding ? await addGroupMember(deps, groupId, userId) : await removeGroupMember(deps, groupId, userId);
      if (!result.ok && !adding && result.error.code === 'group_not_found') return ok(undefined);
      break;
    }
  }
  return result.ok ? ok(undefined) : err(failure(result.error));
}

/**
 * Applies one validated command delivered as message `messageId`, once: a mark kept 7 days in
 * `state` makes a redelivery (or a resend with the same id) a no-op, so a stale command never
 * overwrites a newer one.
 */
export async function runDirectoryCommand(deps: DirectoryDeps, messageId: string, command: DirectoryCommand): Promise<Result<CommandOutcome, CommandFailure>> {
  const markId = documentIdFor('message', messageId);
  if ((await deps.store.get('state', processedPartition, markId)) !== undefined) return ok('duplicate');
  const applied = await apply(deps, command);
  if (!applied.ok) return applied;
  await deps.store.upsert('state', processedPartition, markId, { command: command.command, processedAt: deps.clock.now().toISOString() }, { ttlSeconds: processedTtlSeconds });
  return ok('applied');
}
