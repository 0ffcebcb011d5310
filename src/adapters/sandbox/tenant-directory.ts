import { randomUUID } from 'node:crypto';
import type { DomainSeed, TenantSeed } from './seed';
import { directoryRoleDefinitions, stableGuid } from './seed';
import type { SandboxStore } from './sandbox-store';
import { defaultSkus, type SandboxAssignedLicense, type SandboxSku } from './licensing';

/**
 * Change tracking: every change takes the tenant's next sequence number. Delta tokens carry the
 * sequence they were issued at, so a round returns exactly the objects changed since then.
 */
interface ObjectMeta {
  createdSeq: number;
  seq: number;
  deletedSeq: number | undefined;
  deletedAtMs: number | undefined;
  /** Sequence of the last change of each property (or relationship: `manager`, `members`). */
  propSeq: Record<string, number>;
  /** Replication lag: reads do not see the object before this instant. */
  visibleAtMs: number;
}

export interface UserRecord extends ObjectMeta {
  readonly id: string;
  props: Record<string, unknown>;
  managerId: string | null;
  roles: string[];
  /** Refresh tokens issued before this instant are refused (password reset revokes sessions). */
  tokensValidFromMs: number;
  /** Licences (`assignedLicenses`); absent on users that never had one. */
  assignedLicenses?: SandboxAssignedLicense[];
}

export interface MemberEvent {
  readonly seq: number;
  readonly memberId: string;
  readonly removed: boolean;
}

export interface GroupRecord extends ObjectMeta {
  readonly id: string;
  props: Record<string, unknown>;
  members: Set<string>;
  memberEvents: MemberEvent[];
}

export interface DirectoryRoleObject {
  readonly id: string;
  readonly roleTemplateId: string;
  readonly displayName: string;
  readonly description: string;
}

/** Entra keeps deleted users restorable for 30 days, then deletes them for good. */
export const deletedItemsRetentionMs = 30 * 24 * 3600_000;

// Shared by the many users without a role; role lists are replaced, never mutated.
const noRoles: string[] = [];

function lower(value: unknown): string | undefined {
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}

function newMeta(seq: number, visibleAtMs: number): ObjectMeta {
  return { createdSeq: seq, seq, deletedSeq: undefined, deletedAtMs: undefined, propSeq: {}, visibleAtMs };
}

/** Hears every change of a user or group, as Graph's change notifications report it (soft deletion is `updated`). */
export type DirectoryChangeListener = (collection: 'users' | 'groups', objectId: string) => void;

/** One simulated Entra tenant: users, groups, domains, roles, with indexes for the hot paths. */
export class TenantDirectory {
  readonly id: string;
  readonly name: string;
  readonly displayName: string;
  readonly createdDateTime: string;
  readonly domains: DomainSeed[];
  readonly roles: DirectoryRoleObject[];
  seq = 0;
  readonly users = new Map<string, UserRecord>();
  /** Creation order, tombstones included: list paging and delta scans walk it by position. */
  readonly userOrder: UserRecord[] = [];
  readonly groups = new Map<string, GroupRecord>();
  readonly groupOrder: GroupRecord[] = [];
  private readonly byUpn = new Map<string, UserRecord>();
  private readonly byMail = new Map<string, UserRecord>();
  private readonly groupsOfMember = new Map<string, Set<string>>();
  liveUserCount = 0;
  /** Subscribed products with their seats. */
  readonly skus: SandboxSku[];

  constructor(
    seed: Pick<TenantSeed, 'id' | 'name' | 'displayName' | 'createdDateTime' | 'domains'> & { readonly skus?: readonly SandboxSku[] },
    private readonly store: SandboxStore,
    private readonly changed: DirectoryChangeListener = () => undefined,
  ) {
    this.id = seed.id;
    this.name = seed.name;
    this.displayName = seed.displayName;
    this.createdDateTime = seed.createdDateTime;
    this.domains = [...seed.domains];
    this.skus = (seed.skus ?? defaultSkus()).map((sku) => ({ ...sku }));
    this.roles = Object.entries(directoryRoleDefinitions).map(([roleTemplateId, def]) => ({
      id: stableGuid(seed.id, 'directoryRole', roleTemplateId),
      roleTemplateId,
      ...def,
    }));
  }

  persistTenant(): void {
    this.store.saveTenant({
      id: this.id,
      json: JSON.stringify({ id: this.id, name: this.name, displayName: this.displayName, createdDateTime: this.createdDateTime, domains: this.domains, skus: this.skus }),
    });
  }

  domain(name: string): DomainSeed | undefined {
    const wanted = name.toLowerCase();
    return this.domains.find((d) => d.id.toLowerCase() === wanted);
  }

  isVisible(record: ObjectMeta, nowMs: number): boolean {
    return record.deletedSeq === undefined && record.visibleAtMs <= nowMs;
  }

  /** A live user by object id or userPrincipalName (case-insensitive). */
  findUser(key: string): UserRecord | undefined {
    const byId = this.users.get(key.toLowerCase());
    const user = byId ?? this.byUpn.get(key.toLowerCase());
    return user && user.deletedSeq === undefined ? user : undefined;
  }

  findUserByMail(mail: string): UserRecord | undefined {
    const user = this.byMail.get(mail.toLowerCase());
    return user && user.deletedSeq === undefined ? user : undefined;
  }

  upnTaken(upn: string): boolean {
    const user = this.byUpn.get(upn.toLowerCase());
    return user !== undefined && user.deletedSeq === undefined;
  }

  findGroup(id: string): GroupRecord | undefined {
    const group = this.groups.get(id.toLowerCase());
    return group && group.deletedSeq === undefined ? group : undefined;
  }

  groupIdsOf(userId: string): ReadonlySet<string> {
    return this.groupsOfMember.get(userId) ?? new Set();
  }

  createUser(props: Record<string, unknown>, options: { id?: string; roles?: string[]; visibleAtMs: number }): UserRecord {
    const id = options.id ?? randomUUID();
    const seq = ++this.seq;
    const user: UserRecord = {
      createdSeq: seq,
      seq,
      deletedSeq: undefined,
      deletedAtMs: undefined,
      propSeq: {},
      visibleAtMs: options.visibleAtMs,
      id,
      props,
      managerId: null,
      roles: options.roles ?? noRoles,
      tokensValidFromMs: 0,
    };
    this.indexUser(user);
    this.persistUser(user);
    this.changed('users', id);
    return user;
  }

  updateUser(user: UserRecord, changes: Record<string, unknown>): void {
    const seq = ++this.seq;
    const oldUpn = lower(user.props.userPrincipalName);
    const oldMail = lower(user.props.mail);
    for (const [key, value] of Object.entries(changes)) {
      user.props[key] = value;
      user.propSeq[key] = seq;
    }
    user.seq = seq;
    if (oldUpn !== lower(user.props.userPrincipalName)) {
      if (oldUpn !== undefined) this.byUpn.delete(oldUpn);
      const upn = lower(user.props.userPrincipalName);
      if (upn !== undefined) this.byUpn.set(upn, user);
    }
    if (oldMail !== lower(user.props.mail)) {
      if (oldMail !== undefined && this.byMail.get(oldMail) === user) this.byMail.delete(oldMail);
      const mail = lower(user.props.mail);
      if (mail !== undefined) this.byMail.set(mail, user);
    }
    this.persistUser(user);
    this.changed('users', user.id);
  }

  /**
   * Ends the user's sign-in sessions (a password reset, `revokeSignInSessions`): refresh tokens
   * issued before now stop working. Not a change delta queries report.
   */
  revokeUserSessions(user: UserRecord, nowMs: number): void {
    user.tokensValidFromMs = nowMs;
    user.props.signInSessionsValidFromDateTime = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.persistUser(user);
  }

  setManager(user: UserRecord, managerId: string | null): void {
    const seq = ++this.seq;
    user.managerId = managerId;
    user.propSeq.manager = seq;
    user.seq = seq;
    this.persistUser(user);
    this.changed('users', user.id);
  }

  /** Entra soft-deletes users; they leave every group they were in. */
  deleteUser(user: UserRecord, nowMs: number): void {
    for (const groupId of [...this.groupIdsOf(user.id)]) {
      const group = this.groups.get(groupId);
      if (group) this.removeMember(group, user.id);
    }
    const seq = ++this.seq;
    user.deletedSeq = seq;
    user.deletedAtMs = nowMs;
    user.seq = seq;
    this.liveUserCount -= 1;
    const upn = lower(user.props.userPrincipalName);
    if (upn !== undefined && this.byUpn.get(upn) === user) this.byUpn.delete(upn);
    const mail = lower(user.props.mail);
    if (mail !== undefined && this.byMail.get(mail) === user) this.byMail.delete(mail);
    for (const other of this.users.values()) {
      if (other.managerId === user.id && other.deletedSeq === undefined) this.setManager(other, null);
    }
    this.persistUser(user);
    this.changed('users', user.id);
  }

  /** Seats of a SKU held by live users (`consumedUnits`). */
  consumedUnits(skuId: string): number {
    let count = 0;
    for (const user of this.users.values()) if (user.deletedSeq === undefined && user.assignedLicenses?.some((l) => l.skuId === skuId) === true) count += 1;
    return count;
  }

  setLicenses(user: UserRecord, licenses: SandboxAssignedLicense[]): void {
    user.assignedLicenses = licenses;
    this.persistUser(user);
  }

  /** A deleted user Entra still keeps in deleted items (for `deletedItemsRetentionMs` after the delete). */
  deletedUser(id: string, nowMs: number): UserRecord | undefined {
    const user = this.users.get(id.toLowerCase());
    if (user?.deletedSeq === undefined || user.deletedAtMs === undefined) return undefined;
    return nowMs - user.deletedAtMs <= deletedItemsRetentionMs ? user : undefined;
  }

  /**
   * Brings a deleted user back with its object id and everything it had (group memberships
   * excepted, as in Entra). Delta queries report it as a whole object again.
   */
  undeleteUser(user: UserRecord): void {
    const seq = ++this.seq;
    user.deletedSeq = undefined;
    user.deletedAtMs = undefined;
    user.seq = seq;
    for (const key of Object.keys(user.props)) user.propSeq[key] = seq;
    this.liveUserCount += 1;
    const upn = lower(user.props.userPrincipalName);
    if (upn !== undefined) this.byUpn.set(upn, user);
    const mail = lower(user.props.mail);
    if (mail !== undefined) this.byMail.set(mail, user);
    this.persistUser(user);
  }

  createGroup(props: Record<string, unknown>, options: { id?: string; visibleAtMs: number }): GroupRecord {
    const id = options.id ?? randomUUID();
    const group: GroupRecord = { ...newMeta(++this.seq, options.visibleAtMs), id, props, members: new Set(), memberEvents: [] };
    this.groups.set(id, group);
    this.groupOrder.push(group);
    this.persistGroup(group);
    this.changed('groups', id);
    return group;
  }

  updateGroup(group: GroupRecord, changes: Record<string, unknown>): void {
    const seq = ++this.seq;
    for (const [key, value] of Object.entries(changes)) {
      group.props[key] = value;
      group.propSeq[key] = seq;
    }
    group.seq = seq;
    this.persistGroup(group);
    this.changed('groups', group.id);
  }

  deleteGroup(group: GroupRecord, nowMs: number): void {
    for (const memberId of [...group.members]) this.groupsOfMember.get(memberId)?.delete(group.id);
    const seq = ++this.seq;
    group.deletedSeq = seq;
    group.deletedAtMs = nowMs;
    group.seq = seq;
    this.persistGroup(group);
    this.changed('groups', group.id);
  }

  /** False when the member is already there. */
  addMember(group: GroupRecord, memberId: string): boolean {
    if (group.members.has(memberId)) return false;
    this.recordMemberEvent(group, memberId, false);
    return true;
  }

  /** False when the member was not there. */
  removeMember(group: GroupRecord, memberId: string): boolean {
    if (!group.members.has(memberId)) return false;
    this.recordMemberEvent(group, memberId, true);
    return true;
  }

  private recordMemberEvent(group: GroupRecord, memberId: string, removed: boolean): void {
    const seq = ++this.seq;
    this.applyMemberEvent(group, { seq, memberId, removed });
    group.propSeq.members = seq;
    group.seq = seq;
    this.store.appendMemberEvent({ tenantId: this.id, groupId: group.id, memberId, seq, removed });
    this.persistGroup(group);
    this.changed('groups', group.id);
  }

  private applyMemberEvent(group: GroupRecord, event: MemberEvent): void {
    group.memberEvents.push(event);
    if (event.removed) {
      group.members.delete(event.memberId);
      this.groupsOfMember.get(event.memberId)?.delete(group.id);
    } else {
      group.members.add(event.memberId);
      let set = this.groupsOfMember.get(event.memberId);
      if (!set) {
        set = new Set();
        this.groupsOfMember.set(event.memberId, set);
      }
      set.add(group.id);
    }
  }

  private indexUser(user: UserRecord): void {
    this.users.set(user.id, user);
    this.userOrder.push(user);
    if (user.deletedSeq !== undefined) return;
    this.liveUserCount += 1;
    const upn = lower(user.props.userPrincipalName);
    if (upn !== undefined) this.byUpn.set(upn, user);
    const mail = lower(user.props.mail);
    if (mail !== undefined) this.byMail.set(mail, user);
  }

  private persistUser(user: UserRecord): void {
    if (!this.store.persistent) return;
    const { visibleAtMs: _visible, ...rest } = user;
    this.store.saveObject({ tenantId: this.id, kind: 'user', id: user.id, json: JSON.stringify(rest) });
  }

  private persistGroup(group: GroupRecord): void {
    if (!this.store.persistent) return;
    const { visibleAtMs: _visible, members: _members, memberEvents: _events, ...rest } = group;
    this.store.saveObject({ tenantId: this.id, kind: 'group', id: group.id, json: JSON.stringify(rest) });
  }

  /** Rebuilds a stored user (restart). */
  restoreUser(json: string): void {
    const stored = JSON.parse(json) as Omit<UserRecord, 'visibleAtMs'>;
    const user: UserRecord = { ...stored, deletedSeq: stored.deletedSeq ?? undefined, deletedAtMs: stored.deletedAtMs ?? undefined, visibleAtMs: 0 };
    this.seq = Math.max(this.seq, user.seq);
    this.indexUser(user);
  }

  restoreGroup(json: string): void {
    const stored = JSON.parse(json) as Omit<GroupRecord, 'visibleAtMs' | 'members' | 'memberEvents'>;
    const group: GroupRecord = { ...stored, deletedSeq: stored.deletedSeq ?? undefined, deletedAtMs: stored.deletedAtMs ?? undefined, visibleAtMs: 0, members: new Set(), memberEvents: [] };
    this.seq = Math.max(this.seq, group.seq);
    this.groups.set(group.id, group);
    this.groupOrder.push(group);
  }

  /** Stored rows come back in write order; paging and delta need creation order. */
  finishRestore(): void {
    this.userOrder.sort((a, b) => a.createdSeq - b.createdSeq);
    this.groupOrder.sort((a, b) => a.createdSeq - b.createdSeq);
  }

  restoreMemberEvent(groupId: string, event: MemberEvent): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    this.seq = Math.max(this.seq, event.seq);
    this.applyMemberEvent(group, event);
  }
}
