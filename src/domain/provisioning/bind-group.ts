import { randomUUID } from 'node:crypto';
import type { ConnectionRecord, LicenseSetting } from '../connections/connection';
import { err, ok, type Result } from '../result';
import { groupBindingId, toGroupBindingView, type GroupBindingRecord, type GroupBindingView, type UserBindingRecord } from './binding';
import { mutateDocument, readGroupBinding, readUserBinding } from './binding-records';
import { attachUser, detachUser, nudgeUser, readConnection, readDirectoryUser, type BindingDeps, type BindingRefusal } from './bind-user';
import { nudgeGroupSync } from '../group-sync/group-sync-nudges';
import { sendNudges, type GroupNudge } from './nudges';

/** Members handled per group message: small enough to finish well within a message lock. */
const membersPerPage = 200;

interface MembershipRecord {
  readonly userId: string;
}

/** A group binding as stored, with the expansion run its messages must belong to. */
interface StoredGroupBinding extends GroupBindingRecord {
  readonly run: string;
}

function groupMessage(connectionId: string, groupId: string, op: GroupNudge['op'], run: string): GroupNudge {
  return { kind: 'group', connectionId, groupId, op, run, page: 0, hop: 0 };
}

/** The bindings of a group across connections (a group may be bound on several). */
export async function groupBindingsOf(deps: Pick<BindingDeps, 'store'>, groupId: string): Promise<StoredGroupBinding[]> {
  const found: StoredGroupBinding[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<StoredGroupBinding>('bindings', {
      where: [
        { field: 'kind', op: 'eq', value: 'group' },
        { field: 'groupId', op: 'eq', value: groupId },
      ],
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    found.push(...page.items.map((doc) => doc.data));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

/**
 * PUT /connections/{id}/groups/{groupId}: binds every current member (in the background, a page
 * per message) and every future one (the membership hook). Binding again is harmless.
 */
export async function bindGroup(deps: BindingDeps, connectionId: string, groupId: string, options: { readonly licenses?: readonly LicenseSetting[] } = {}): Promise<Result<GroupBindingView, BindingRefusal>> {
  const bound = await startGroupBinding(deps, connectionId, groupId, undefined, options.licenses);
  // Only a link to a Microsoft 365 group can find the binding anchored on another one.
  if (!bound.ok && bound.error.code === 'group_linked_to_other') throw new Error(`group ${groupId} was refused as anchored elsewhere without an anchor`);
  return bound as Result<GroupBindingView, BindingRefusal>;
}

/** Linking refused: the directory group is bound on this connection anchored on another Microsoft 365 group. */
export interface GroupLinkedToOther {
  readonly code: 'group_linked_to_other';
  readonly message: string;
  readonly m365GroupId: string;
}

/**
 * Binds a directory group to a Microsoft 365 group that already exists (an import), anchored on its
 * object id: members are bound through it as `bindGroup` binds them, and nothing is created in
 * Microsoft 365 for the group. Linking again to the same group changes nothing.
 */
export function linkExistingGroup(deps: BindingDeps, connectionId: string, groupId: string, m365GroupId: string): Promise<Result<GroupBindingView, BindingRefusal | GroupLinkedToOther>> {
  return startGroupBinding(deps, connectionId, groupId, m365GroupId);
}

async function startGroupBinding(deps: BindingDeps, connectionId: string, groupId: string, m365GroupId: string | undefined, licenses?: readonly LicenseSetting[]): Promise<Result<GroupBindingView, BindingRefusal | GroupLinkedToOther>> {
  const connection = await readConnection(deps.store, connectionId);
  if (connection === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  if (connection.status !== 'active') return err({ code: 'connection_not_active', message: `connection ${connectionId} is ${connection.status}; only an active connection can bind groups` });
  if ((await deps.store.get('groups', groupId, groupId)) === undefined) return err({ code: 'group_not_found', message: `group ${groupId} not found` });
  const now = deps.clock.now().toISOString();
  let started: string | undefined;
  let anchoredElsewhere: string | undefined;
  let licensesChanged = false;
  const stored = await mutateDocument<StoredGroupBinding>(deps.store, 'bindings', connectionId, groupBindingId(groupId), (current) => {
    started = undefined;
    anchoredElsewhere = undefined;
    licensesChanged = false;
    if (current !== undefined && current.expansion !== 'unbinding') {
      // Binding again with other licences changes what every member bound through the group gets.
      if (licenses !== undefined && JSON.stringify(licenses) !== JSON.stringify(current.licenses ?? [])) {
        licensesChanged = true;
        return { ...current, licenses, updatedAt: now };
      }
      if (m365GroupId === undefined || current.m365GroupId === m365GroupId) return undefined;
      if (current.m365GroupId !== undefined) {
        anchoredElsewhere = current.m365GroupId;
        return undefined;
      }
      return { ...current, m365GroupId, updatedAt: now };
    }
    started = randomUUID();
    return {
      kind: 'group',
      connectionId,
      groupId,
      expansion: 'binding',
      run: started,
      boundMembers: 0,
      skippedMembers: 0,
      ...(m365GroupId === undefined ? {} : { m365GroupId }),
      ...(licenses === undefined || licenses.length === 0 ? {} : { licenses }),
      createdAt: current?.createdAt ?? now,
      updatedAt: now,
    };
  });
  if (anchoredElsewhere !== undefined) {
    return err({ code: 'group_linked_to_other', m365GroupId: anchoredElsewhere, message: `group ${groupId} is bound on connection ${connectionId} to Microsoft 365 group ${anchoredElsewhere}` });
  }
  if (started !== undefined) {
    await sendNudges(deps.sender, [groupMessage(connectionId, groupId, 'bind', started)]);
    deps.logger.info('group bound', { connectionId, groupId, ...(m365GroupId === undefined ? {} : { m365GroupId }) });
  }
  if (started !== undefined || m365GroupId !== undefined) await nudgeGroupSync(deps, connectionId, groupId, 'bind');
  if (licensesChanged) await nudgeMembersBoundThrough(deps, connectionId, groupId);
  return ok(toGroupBindingView((stored as NonNullable<typeof stored>).data));
}

/** Nudges every member bound through the group, so the worker brings their licences in step. */
async function nudgeMembersBoundThrough(deps: BindingDeps, connectionId: string, groupId: string): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<MembershipRecord>('memberships', { pk: groupId, limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    for (const { data } of page.items) {
      const binding = await readUserBinding(deps.store, connectionId, data.userId);
      if (binding?.data.via.groups.includes(groupId) === true) await nudgeUser(deps, connectionId, data.userId, 'group_membership');
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  deps.logger.info("group's licences changed; its members are brought in step", { connectionId, groupId });
}

/** DELETE /connections/{id}/groups/{groupId}: members bound only through it are unbound (in the background). */
export async function unbindGroup(deps: BindingDeps, connectionId: string, groupId: string): Promise<Result<GroupBindingView, BindingRefusal>> {
  const existing = await readGroupBinding(deps.store, connectionId, groupId);
  if (existing === undefined) return err({ code: 'binding_not_found', message: `group ${groupId} is not bound to connection ${connectionId}` });
  const view = await startUnbinding(deps, connectionId, groupId);
  return view === undefined ? err({ code: 'binding_not_found', message: `group ${groupId} is not bound to connection ${connectionId}` }) : ok(view);
}

/** Marks the group binding as unbinding and starts releasing its members; also used when the group is deleted. */
export async function startUnbinding(deps: BindingDeps, connectionId: string, groupId: string): Promise<GroupBindingView | undefined> {
  const now = deps.clock.now().toISOString();
  let started: string | undefined;
  const stored = await mutateDocument<StoredGroupBinding>(deps.store, 'bindings', connectionId, groupBindingId(groupId), (current) => {
    started = undefined;
    if (current === undefined || current.expansion === 'unbinding') return undefined;
    started = randomUUID();
    return { ...current, expansion: 'unbinding', run: started, updatedAt: now };
  });
  if (stored === undefined) return undefined;
  if (started !== undefined) {
    await sendNudges(deps.sender, [groupMessage(connectionId, groupId, 'unbind', started)]);
    await nudgeGroupSync(deps, connectionId, groupId, 'unbind');
    deps.logger.info('group unbound', { connectionId, groupId });
  }
  return toGroupBindingView(stored.data);
}

export type GroupExpansionOutcome = { readonly kind: 'done'; readonly detail: string } | { readonly kind: 'wait'; readonly untilMs: number; readonly detail: string };

/**
 * One page of a group expansion. Binding walks the group's members; unbinding walks the
 * connection's user bindings (the group's memberships may be gone with the group) and releases
 * those bound through it. Each page sends the next; a stale run's messages do nothing.
 */
export async function expandGroup(deps: BindingDeps, message: GroupNudge): Promise<GroupExpansionOutcome> {
  const { connectionId, groupId } = message;
  const current = await deps.store.get<StoredGroupBinding>('bindings', connectionId, groupBindingId(groupId));
  if (current === undefined || current.data.run !== message.run) return { kind: 'done', detail: 'stale group run' };
  const connection = await readConnection(deps.store, connectionId);
  if (connection === undefined || connection.status === 'deauthorized') return { kind: 'done', detail: 'connection gone' };
  if (message.op === 'bind' && connection.status !== 'active') {
    return { kind: 'wait', untilMs: deps.clock.now().getTime() + 30_000, detail: `connection is ${connection.status}` };
  }
  const page = message.op === 'bind' ? await bindMembersPage(deps, connection, message) : await releaseMembersPage(deps, message);
  const now = deps.clock.now().toISOString();
  await mutateDocument<StoredGroupBinding>(deps.store, 'bindings', connectionId, groupBindingId(groupId), (stored) => {
    if (stored === undefined || stored.run !== message.run) return undefined;
    const counted = { ...stored, boundMembers: stored.boundMembers + page.bound, skippedMembers: stored.skippedMembers + page.skipped, updatedAt: now };
    return page.nextCursor === undefined && message.op === 'bind' ? { ...counted, expansion: 'bound' } : counted;
  });
  if (page.nextCursor !== undefined) {
    await sendNudges(deps.sender, [{ ...message, cursor: page.nextCursor, page: message.page + 1, hop: 0 }]);
  } else if (message.op === 'unbind') {
    const last = await deps.store.get<StoredGroupBinding>('bindings', connectionId, groupBindingId(groupId));
    // Bound again while unbinding: the new run owns the document.
    if (last !== undefined && last.data.run === message.run) await deps.store.delete('bindings', connectionId, groupBindingId(groupId), { ifMatch: last.etag });
  }
  return { kind: 'done', detail: `${message.op} page ${message.page}: ${page.bound} bound, ${page.skipped} skipped` };
}

async function bindMembersPage(deps: BindingDeps, connection: ConnectionRecord, message: GroupNudge): Promise<{ bound: number; skipped: number; nextCursor?: string }> {
  const members = await deps.store.query<MembershipRecord>('memberships', { pk: message.groupId, limit: membersPerPage, ...(message.cursor === undefined ? {} : { cursor: message.cursor }) });
  let bound = 0;
  let skipped = 0;
  for (const member of members.items) {
    const attached = await bindMember(deps, connection, message.groupId, member.data.userId);
    if (attached) bound += 1;
    else skipped += 1;
  }
  return { bound, skipped, ...(members.nextCursor === undefined ? {} : { nextCursor: members.nextCursor }) };
}

/** Binds one member through the group; a member this connection cannot take is skipped with a log line. */
export async function bindMember(deps: BindingDeps, connection: ConnectionRecord, groupId: string, userId: string): Promise<boolean> {
  const user = await readDirectoryUser(deps.store, userId);
  if (user === undefined) return false;
  const attached = await attachUser(deps, connection, user, { groupId });
  if (!attached.ok) {
    deps.logger.info('group member not bound', { connectionId: connection.id, groupId, userId, code: attached.error.code, reason: attached.error.message });
    return false;
  }
  return true;
}

async function releaseMembersPage(deps: BindingDeps, message: GroupNudge): Promise<{ bound: number; skipped: number; nextCursor?: string }> {
  const bindings = await deps.store.query<UserBindingRecord>('bindings', {
    pk: message.connectionId,
    where: [{ field: 'kind', op: 'eq', value: 'user' }],
    limit: membersPerPage,
    ...(message.cursor === undefined ? {} : { cursor: message.cursor }),
  });
  for (const doc of bindings.items) {
    if (doc.data.via.groups.includes(message.groupId)) await detachUser(deps, message.connectionId, doc.data.userId, { groupId: message.groupId }, 'group_membership');
  }
  return { bound: 0, skipped: 0, ...(bindings.nextCursor === undefined ? {} : { nextCursor: bindings.nextCursor }) };
}
