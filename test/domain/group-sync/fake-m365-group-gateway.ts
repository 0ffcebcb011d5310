import type { GroupDeltaItem, GroupDeltaPage, M365Group, M365GroupGateway, M365GroupPatch, MemberChange, MemberChangeResult, NewM365SecurityGroup } from '../../../src/domain/group-sync/m365-group-gateway';
import type { GatewayFailure, GatewayResult } from '../../../src/domain/provisioning/m365-user-gateway';
import { err, ok } from '../../../src/domain/result';

type Op = 'findByNameOrNickname' | 'get' | 'createSecurityGroup' | 'update' | 'delete' | 'memberIds' | 'changeMembers' | 'deltaPage';

export interface FakeGroup {
  readonly id: string;
  displayName: string;
  mailNickname: string;
  description: string | null;
  securityEnabled: boolean;
  mailEnabled: boolean;
  groupTypes: string[];
  readonly members: Set<string>;
  deleted: boolean;
}

/** One change as groups/delta reports it: a group's attributes, one member, or the group's deletion. */
type ChangeFact = { readonly groupId: string } & ({ readonly kind: 'attributes' | 'deleted' } | { readonly kind: 'member'; readonly memberId: string; readonly present: boolean });
type Change = ChangeFact & { readonly seq: number };

/**
 * A tiny in-memory set of Microsoft 365 groups behind the group gateway port: a change log for
 * groups/delta (our own writes included, as Graph reports them), scripted faults, and a way to
 * change groups "behind the app's back".
 */
export class FakeM365GroupGateway implements M365GroupGateway {
  readonly groups = new Map<string, FakeGroup>();
  readonly calls: { op: Op; id?: string; changes?: readonly MemberChange[] }[] = [];
  /** Member changes answered with a failure once (by member id), the rest of their batch succeeding. */
  readonly memberFailures = new Map<string, GatewayFailure>();
  /** Delta links stop working (Graph's 410 syncStateNotFound). */
  expireLinks = false;
  private readonly faults: { op: Op; failure?: GatewayFailure; afterApplying?: boolean }[] = [];
  private readonly log: Change[] = [];
  private seq = 0;
  private created = 0;

  /** The next call of `op` fails with `failure`; with `afterApplying` it takes effect and then throws, as a lost answer does. */
  failNext(op: Op, failure: GatewayFailure | undefined, options: { afterApplying?: boolean } = {}): void {
    this.faults.push({ op, ...(failure === undefined ? {} : { failure }), ...options });
  }

  seed(fields: Partial<Omit<FakeGroup, 'members'>> & { displayName: string; members?: string[] }): FakeGroup {
    this.created += 1;
    const group: FakeGroup = {
      id: fields.id ?? `seeded-${this.created}`,
      displayName: fields.displayName,
      mailNickname: fields.mailNickname ?? fields.displayName.replace(/\s/g, ''),
      description: fields.description ?? null,
      securityEnabled: fields.securityEnabled ?? true,
      mailEnabled: fields.mailEnabled ?? false,
      groupTypes: fields.groupTypes ?? [],
      members: new Set(fields.members ?? []),
      deleted: false,
    };
    this.groups.set(group.id, group);
    this.note({ groupId: group.id, kind: 'attributes' });
    for (const member of group.members) this.note({ groupId: group.id, kind: 'member', memberId: member, present: true });
    return group;
  }

  live(): FakeGroup[] {
    return [...this.groups.values()].filter((g) => !g.deleted);
  }

  count(op: Op): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  // ---- "behind the app's back" ------------------------------------------------------------------

  addMemberBehindBack(groupId: string, memberId: string): void {
    this.setMember(this.mustGet(groupId), memberId, true);
  }

  removeMemberBehindBack(groupId: string, memberId: string): void {
    this.setMember(this.mustGet(groupId), memberId, false);
  }

  renameBehindBack(groupId: string, displayName: string): void {
    this.mustGet(groupId).displayName = displayName;
    this.note({ groupId, kind: 'attributes' });
  }

  deleteBehindBack(groupId: string): void {
    this.mustGet(groupId).deleted = true;
    this.note({ groupId, kind: 'deleted' });
  }

  // ---- the port ---------------------------------------------------------------------------------

  findByNameOrNickname(displayName: string, mailNickname: string): Promise<GatewayResult<M365Group[]>> {
    return this.run('findByNameOrNickname', undefined, () =>
      ok(this.live().filter((g) => g.displayName.toLowerCase() === displayName.toLowerCase() || g.mailNickname.toLowerCase() === mailNickname.toLowerCase()).map(view)),
    );
  }

  get(id: string): Promise<GatewayResult<M365Group>> {
    return this.run('get', id, () => {
      const group = this.groups.get(id);
      return group === undefined || group.deleted ? err(notFound(id)) : ok(view(group));
    });
  }

  createSecurityGroup(group: NewM365SecurityGroup): Promise<GatewayResult<M365Group>> {
    return this.run('createSecurityGroup', undefined, () => ok(view(this.seed({ id: `created-${this.created + 1}`, ...group, securityEnabled: true, mailEnabled: false }))));
  }

  update(id: string, patch: M365GroupPatch): Promise<GatewayResult<void>> {
    return this.run('update', id, () => {
      const group = this.groups.get(id);
      if (group === undefined || group.deleted) return err(notFound(id));
      if (patch.displayName !== undefined) group.displayName = patch.displayName;
      if (patch.description !== undefined) group.description = patch.description;
      this.note({ groupId: id, kind: 'attributes' });
      return ok(undefined);
    });
  }

  delete(id: string): Promise<GatewayResult<void>> {
    return this.run('delete', id, () => {
      const group = this.groups.get(id);
      if (group !== undefined && !group.deleted) this.deleteBehindBack(id);
      return ok(undefined);
    });
  }

  memberIds(id: string): Promise<GatewayResult<string[]>> {
    return this.run('memberIds', id, () => {
      const group = this.groups.get(id);
      return group === undefined || group.deleted ? err(notFound(id)) : ok([...group.members]);
    });
  }

  changeMembers(id: string, changes: readonly MemberChange[]): Promise<GatewayResult<MemberChangeResult[]>> {
    if (changes.length > 20) throw new TypeError('a $batch takes at most 20 requests');
    return this.run(
      'changeMembers',
      id,
      () => {
        const group = this.groups.get(id);
        if (group === undefined || group.deleted) return err(notFound(id));
        return ok(
          changes.map((change): MemberChangeResult => {
            const failure = this.memberFailures.get(change.memberId);
            if (failure !== undefined) {
              this.memberFailures.delete(change.memberId);
              return { change, status: 'failed', failure };
            }
            const present = group.members.has(change.memberId);
            if (present === (change.op === 'add')) return { change, status: 'unchanged' };
            this.setMember(group, change.memberId, change.op === 'add');
            return { change, status: 'applied' };
          }),
        );
      },
      changes,
    );
  }

  deltaPage(link: string | undefined): Promise<GatewayResult<GroupDeltaPage>> {
    return this.run('deltaPage', undefined, (): GatewayResult<GroupDeltaPage> => {
      if (link !== undefined && this.expireLinks) return ok({ kind: 'expired' });
      const since = link === undefined ? undefined : Number(link.slice('delta:'.length));
      const items: GroupDeltaItem[] = since === undefined ? this.live().map((g) => ({ ...attributesOf(g), removed: false, membersAdded: [...g.members], membersRemoved: [] })) : this.changesSince(since);
      return ok({ kind: 'page', items, deltaLink: `delta:${this.seq}` });
    });
  }

  // ---- internals --------------------------------------------------------------------------------

  private changesSince(since: number): GroupDeltaItem[] {
    const byGroup = new Map<string, Change[]>();
    for (const change of this.log) if (change.seq > since) byGroup.set(change.groupId, [...(byGroup.get(change.groupId) ?? []), change]);
    return [...byGroup].map(([groupId, changes]) => {
      const group = this.groups.get(groupId) as FakeGroup;
      if (group.deleted) return { id: groupId, removed: true, membersAdded: [], membersRemoved: [] };
      const last = new Map<string, boolean>();
      for (const change of changes) if (change.kind === 'member') last.set(change.memberId, change.present);
      return {
        ...attributesOf(group),
        removed: false,
        membersAdded: [...last].filter(([, present]) => present).map(([memberId]) => memberId),
        membersRemoved: [...last].filter(([, present]) => !present).map(([memberId]) => memberId),
      };
    });
  }

  private mustGet(groupId: string): FakeGroup {
    const group = this.groups.get(groupId);
    if (group === undefined) throw new Error(`no group ${groupId}`);
    return group;
  }

  private setMember(group: FakeGroup, memberId: string, present: boolean): void {
    if (present) group.members.add(memberId);
    else group.members.delete(memberId);
    this.note({ groupId: group.id, kind: 'member', memberId, present });
  }

  private note(change: ChangeFact): void {
    this.seq += 1;
    this.log.push({ ...change, seq: this.seq });
  }

  private async run<T>(op: Op, id: string | undefined, apply: () => GatewayResult<T>, changes?: readonly MemberChange[]): Promise<GatewayResult<T>> {
    this.calls.push({ op, ...(id === undefined ? {} : { id }), ...(changes === undefined ? {} : { changes }) });
    const index = this.faults.findIndex((f) => f.op === op);
    const fault = index < 0 ? undefined : this.faults.splice(index, 1)[0];
    if (fault === undefined) return apply();
    if (fault.afterApplying === true) {
      apply();
      throw new Error(`${op}: the connection was reset before the answer arrived`);
    }
    return err(fault.failure as GatewayFailure);
  }
}

function view(group: FakeGroup): M365Group {
  return { id: group.id, displayName: group.displayName, mailNickname: group.mailNickname, description: group.description, securityEnabled: group.securityEnabled, mailEnabled: group.mailEnabled, groupTypes: group.groupTypes };
}

function attributesOf(group: FakeGroup): Pick<GroupDeltaItem, 'id' | 'displayName' | 'description'> {
  return { id: group.id, displayName: group.displayName, description: group.description };
}

function notFound(id: string): GatewayFailure {
  return { kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist.` };
}
