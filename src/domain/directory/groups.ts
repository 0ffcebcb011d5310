import { InvalidCursorError, type Condition } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { maxWriteAttempts, sameEtag, type ConditionalWrite, type CreateOptions, type DirectoryDeps, type Page, type Versioned } from './directory-deps';
import type { DirectoryFailure } from './directory-failures';
import type { GroupField } from './directory-hooks';
import { newDirectoryId } from './directory-ids';
import { deleteMembershipsOfGroup, listGroupsOfUser } from './group-memberships';
import { readUser } from './user-records';
import { groupSchema, type CreateGroupInput, type Group, type GroupPatch } from './group-schemas';
import { claimOwner, claimUnique, groupNameClaim, holdsClaim, releaseClaim, type HolderCheck } from './unique-claims';

/** A group as stored in `groups` (pk = id = group id). Members live in `memberships`. */
type GroupRecord = Group;

export interface GroupListQuery {
  /** Exact name, any case (answered from the name's claim). */
  readonly name?: string;
  /** Case-insensitive substring of the name. */
  readonly q?: string;
  readonly limit: number;
  readonly cursor?: string;
}

const shownFields = Object.keys(groupSchema.shape) as (keyof Group)[];
const changeableFields: readonly GroupField[] = ['name', 'description'];

function toGroup(record: GroupRecord): Group {
  const group: Record<string, unknown> = {};
  for (const field of shownFields) {
    if (record[field] !== undefined) group[field] = record[field];
  }
  return group as Group;
}

function readGroup(deps: DirectoryDeps, id: string) {
  return deps.store.get<GroupRecord>('groups', id, id);
}

function holdsName(deps: DirectoryDeps, name: string): HolderCheck {
  return async (ownerId) => (await readGroup(deps, ownerId))?.data.name.toLowerCase() === name.toLowerCase();
}

/** Creates a group; `group_name_taken` when another group has the name in any case. */
export async function createGroup(deps: DirectoryDeps, input: CreateGroupInput, options: CreateOptions = {}): Promise<Result<Versioned<Group>, DirectoryFailure>> {
  const id = options.id ?? newDirectoryId(deps.clock);
  const now = deps.clock.now().toISOString();
  const record: GroupRecord = { id, name: input.name, ...(input.description === undefined ? {} : { description: input.description }), createdAt: now, updatedAt: now };
  const key = groupNameClaim(input.name);
  const claimed = await claimUnique(deps, key, id, holdsName(deps, input.name));
  if (!claimed.ok) return err({ code: 'group_name_taken', name: input.name });
  const created = await deps.store.create('groups', id, id, record);
  if (!created.ok) throw new Error(`group id collision on ${id}`);
  if (!(await holdsClaim(deps, key, id))) {
    await deps.store.delete('groups', id, id);
    return err({ code: 'group_name_taken', name: input.name });
  }
  await deps.directoryHooks.onChange({ type: 'group.created', groupId: id, name: record.name, occurredAt: now });
  return ok({ value: toGroup(record), etag: created.value.etag });
}

export async function getGroup(deps: DirectoryDeps, id: string): Promise<Result<Versioned<Group>, DirectoryFailure>> {
  const doc = await readGroup(deps, id);
  return doc === undefined ? err({ code: 'group_not_found', groupId: id }) : ok({ value: toGroup(doc.data), etag: doc.etag });
}

/** The groups a user is a member of, by name (a user is in a handful of groups). */
export async function groupsOfUser(deps: DirectoryDeps, userId: string): Promise<Result<Group[], DirectoryFailure>> {
  if ((await readUser(deps, userId)) === undefined) return err({ code: 'user_not_found', userId });
  const docs = await Promise.all((await listGroupsOfUser(deps, userId)).map((groupId) => readGroup(deps, groupId)));
  const groups = docs.flatMap((doc) => (doc === undefined ? [] : [toGroup(doc.data)]));
  return ok(groups.sort((a, b) => a.name.localeCompare(b.name)));
}

/** The group with this name (any case), through its unique claim. */
export async function findGroupByName(deps: DirectoryDeps, name: string): Promise<Versioned<Group> | undefined> {
  const ownerId = await claimOwner(deps, groupNameClaim(name.trim()));
  if (ownerId === undefined) return undefined;
  const doc = await readGroup(deps, ownerId);
  return doc !== undefined && doc.data.name.toLowerCase() === name.trim().toLowerCase() ? { value: toGroup(doc.data), etag: doc.etag } : undefined;
}

/** A page of groups, oldest first. */
export async function listGroups(deps: DirectoryDeps, query: GroupListQuery): Promise<Result<Page<Group>, DirectoryFailure>> {
  if (query.name !== undefined) {
    const found = await findGroupByName(deps, query.name);
    const matches = found !== undefined && (query.q === undefined || found.value.name.toLowerCase().includes(query.q.toLowerCase()));
    return ok({ items: matches ? [found.value] : [] });
  }
  const where: Condition[] = query.q === undefined ? [] : [{ fields: ['name'], op: 'contains', value: query.q }];
  try {
    const page = await deps.store.query<GroupRecord>('groups', { where, limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
    return ok({ items: page.items.map((doc) => toGroup(doc.data)), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) });
  } catch (error) {
    if (error instanceof InvalidCursorError) return err({ code: 'invalid_cursor' });
    throw error;
  }
}

function applyPatch(current: GroupRecord, patch: GroupPatch): GroupRecord {
  const { description, ...rest } = current;
  const keepDescription = patch.description === undefined ? description : (patch.description ?? undefined);
  return { ...rest, name: patch.name ?? current.name, ...(keepDescription === undefined ? {} : { description: keepDescription }) };
}

/** Applies a patch (given fields replace, `description: null` clears); renaming claims the new name. */
export async function updateGroup(deps: DirectoryDeps, id: string, patch: GroupPatch, options: ConditionalWrite = {}): Promise<Result<Versioned<Group>, DirectoryFailure>> {
  for (let attempt = 1; attempt <= maxWriteAttempts; attempt++) {
    const current = await readGroup(deps, id);
    if (current === undefined) return err({ code: 'group_not_found', groupId: id });
    if (options.ifMatch !== undefined && !sameEtag(options.ifMatch, current.etag)) return err({ code: 'version_mismatch' });
    const proposed = applyPatch(current.data, patch);
    const changedFields = changeableFields.filter((field) => proposed[field] !== current.data[field]);
    if (changedFields.length === 0) return ok({ value: toGroup(current.data), etag: current.etag });
    const newKey = groupNameClaim(proposed.name);
    const oldKey = groupNameClaim(current.data.name);
    const renamed = newKey.value !== oldKey.value;
    if (renamed && !(await claimUnique(deps, newKey, id, holdsName(deps, proposed.name))).ok) return err({ code: 'group_name_taken', name: proposed.name });
    const now = deps.clock.now().toISOString();
    const next: GroupRecord = { ...proposed, updatedAt: now };
    const written = await deps.store.replace('groups', id, id, next, { ifMatch: current.etag });
    if (!written.ok) {
      if (renamed) await releaseClaim(deps, newKey, id);
      if (written.error === 'not_found') return err({ code: 'group_not_found', groupId: id });
      if (options.ifMatch !== undefined) return err({ code: 'version_mismatch' });
      continue;
    }
    if (renamed) {
      if (!(await holdsClaim(deps, newKey, id))) {
        await deps.store.replace('groups', id, id, current.data, { ifMatch: written.value.etag });
        return err({ code: 'group_name_taken', name: proposed.name });
      }
      await releaseClaim(deps, oldKey, id);
    }
    await deps.directoryHooks.onChange({ type: 'group.updated', groupId: id, name: next.name, changedFields, occurredAt: now });
    return ok({ value: toGroup(next), etag: written.value.etag });
  }
  return err({ code: 'write_contention' });
}

/** Deletes a group, then its name claim and its memberships a page at a time. */
export async function deleteGroup(deps: DirectoryDeps, id: string, options: ConditionalWrite = {}): Promise<Result<void, DirectoryFailure>> {
  for (let attempt = 1; attempt <= maxWriteAttempts; attempt++) {
    const current = await readGroup(deps, id);
    if (current === undefined) return err({ code: 'group_not_found', groupId: id });
    if (options.ifMatch !== undefined && !sameEtag(options.ifMatch, current.etag)) return err({ code: 'version_mismatch' });
    const deleted = await deps.store.delete('groups', id, id, { ifMatch: current.etag });
    if (!deleted.ok) {
      if (deleted.error === 'not_found') return err({ code: 'group_not_found', groupId: id });
      if (options.ifMatch !== undefined) return err({ code: 'version_mismatch' });
      continue;
    }
    await releaseClaim(deps, groupNameClaim(current.data.name), id);
    await deleteMembershipsOfGroup(deps, id);
    await deps.directoryHooks.onChange({ type: 'group.deleted', groupId: id, name: current.data.name, occurredAt: deps.clock.now().toISOString() });
    return ok(undefined);
  }
  return err({ code: 'write_contention' });
}
