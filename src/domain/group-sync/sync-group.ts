import { backoffDelayMs } from '../backoff';
import type { ConnectionRecord } from '../connections/connection';
import type { Group } from '../directory/group-schemas';
import type { Clock } from '../ports/clock';
import type { Metrics } from '../ports/metrics';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { MessageSender } from '../ports/work-queue';
import type { BindingError } from '../provisioning/binding';
import { readGroupBinding } from '../provisioning/binding-records';
import { readConnection } from '../provisioning/bind-user';
import type { ConnectionThrottle } from '../provisioning/connection-throttle';
import { respondToFailure } from '../provisioning/failure-response';
import type { GatewayFailure } from '../provisioning/m365-user-gateway';
import { provisioningEventId, recordEvent, type ProvisioningEvent } from '../provisioning/provisioning-events';
import { desiredMembers, membersDigest, type DesiredMembers } from './desired-members';
import type { GroupSyncNudge } from './group-sync-nudges';
import { groupSyncRecordId, mutateGroupSyncRecord, readGroupSyncRecord, type GroupPendingWrite, type GroupSyncRecord, type PendingMemberPass } from './group-sync-record';
import { maxMemberChangesPerCall, type M365Group, type M365GroupGateway, type M365GroupGateways, type M365GroupPatch, type MemberChange } from './m365-group-gateway';

export interface GroupSyncDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sender: MessageSender;
  readonly gateways: M365GroupGateways;
  /** Shared with the provisioning worker: a 429 for one call of a tenant holds back all of them. */
  readonly throttle: ConnectionThrottle;
  /** Failed attempts after which a run stops retrying; the record shows the error and the reconciler retries it later. */
  readonly maxAttempts: number;
  /** Counts recorded events; absent, nothing is counted. */
  readonly metrics?: Metrics;
}

/** What a run did: `again` sends the nudge once more at `untilMs` (a wait, a retry, or members still settling). */
export type GroupSyncOutcome = { readonly kind: 'done'; readonly detail: string } | { readonly kind: 'again'; readonly untilMs: number; readonly detail: string };

const notActiveWait = { firstMs: 5_000, maxMs: 60_000 };
const retryBackoff = { firstMs: 1_000, maxMs: 120_000 };
// Members settle within seconds when one user is bound, within minutes for a large group: look early, then every 30 s.
const recheck = { firstMs: 1_000, maxMs: 30_000 };
/** Rechecks of one nudge (about a quarter of an hour); after that the reconciler notices what is left. */
const maxRecheckHops = 30;

// mailNickname: ASCII without spaces or @ ( ) \ [ ] " ; : < > , (group-post-groups.md), at most 64 characters.
const notInNickname = /[^\x21-\x7e]|[@()\\[\]";:<>,]/g;

/** The mailNickname a created group gets: the name reduced to what Graph accepts. It never changes afterwards. */
export function mailNicknameFor(group: Pick<Group, 'id' | 'name'>): string {
  const nickname = group.name.normalize('NFKD').replace(notInNickname, '').slice(0, 64);
  return nickname.length > 0 ? nickname : `group-${group.id}`.replace(notInNickname, '').slice(0, 64);
}

/** Only a plain security group can be taken over: not mail-enabled, not a Microsoft 365 (Unified) or dynamic group. */
function isPlainSecurityGroup(group: M365Group): boolean {
  return group.securityEnabled && !group.mailEnabled && group.groupTypes.length === 0;
}

function sameDescription(a: string | null | undefined, b: string | null | undefined): boolean {
  return (a ?? '') === (b ?? '');
}

type EventSpec = GroupPendingWrite['events'][number];

/** A failure that ends the run, already classified. */
class RunStop {
  constructor(readonly outcome: GroupSyncOutcome) {}
}

/**
 * One run for one bound group on one connection: links (or creates) the security group, writes
 * its name, then makes its members the desired ones, recording one event per effective change.
 * Safe to run again at any point: writes go through pending records on the sync record, so a
 * redelivery finishes them under the same event ids.
 */
class GroupSyncRun {
  private record: GroupSyncRecord;
  private readonly startChangeSeq: number;
  private readonly gateway: M365GroupGateway;
  private readonly log: Logger;

  constructor(
    private readonly deps: GroupSyncDeps,
    private readonly connection: ConnectionRecord,
    record: GroupSyncRecord,
    private readonly nudge: GroupSyncNudge,
  ) {
    this.record = record;
    this.startChangeSeq = record.changeSeq;
    this.gateway = deps.gateways.forConnection(connection.id);
    this.log = deps.logger.child({ connectionId: connection.id, groupId: record.groupId, changeSeq: nudge.changeSeq, reason: nudge.reason });
  }

  async run(): Promise<GroupSyncOutcome> {
    try {
      return await this.sync();
    } catch (error) {
      if (error instanceof RunStop) return error.outcome;
      throw error;
    }
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  private async sync(): Promise<GroupSyncOutcome> {
    const { store } = this.deps;
    const groupId = this.record.groupId;
    const binding = await readGroupBinding(store, this.connection.id, groupId);
    const group = (await store.get<Group>('groups', groupId, groupId))?.data;
    if (binding === undefined || binding.data.expansion === 'unbinding' || group === undefined) return this.letGo();

    const { account, takeover } = await this.linked(group, binding.data.m365GroupId?.toLowerCase());
    await this.syncAttributes(account, group, takeover);
    const desired = await desiredMembers(store, this.connection.id, groupId);
    const complete = await this.syncMembers(account.id, desired);

    // Members still being bound or provisioned join once done: look again shortly.
    const settling = desired.settling + (binding.data.expansion === 'binding' ? 1 : 0);
    const again = settling > 0 && this.nudge.hop < maxRecheckHops;
    await this.finish({ handled: !again, digest: complete ? membersDigest(desired.include) : undefined });
    const detail = `in step: ${desired.include.size} members${settling > 0 ? `, ${desired.settling} settling` : ''}`;
    return again ? { kind: 'again', untilMs: this.now().getTime() + backoffDelayMs(this.nudge.hop, recheck, false), detail } : { kind: 'done', detail };
  }

  // ---- linking: the import anchor, the existing link, or a group found by name, or a new one -----

  private async linked(group: Group, anchor: string | undefined): Promise<{ account: M365Group; takeover: boolean }> {
    if (anchor !== undefined && anchor !== this.record.anchor) {
      // Imported from this Microsoft 365 group: it is the one to keep in step, nothing is created.
      const read = await this.gateway.get(anchor);
      if (!read.ok) {
        if (read.error.kind === 'not_found') throw await this.permanent({ code: 'M365_GROUP_NOT_FOUND', message: `The Microsoft 365 group ${anchor} the group binding was imported from does not exist.` });
        throw await this.failure(read.error);
      }
      const relinked = read.value.id !== this.record.m365GroupId;
      this.record = relinked ? { ...this.relink(read.value.id), anchor } : { ...this.record, anchor };
      return { account: read.value, takeover: relinked };
    }
    if (this.record.m365GroupId !== undefined) {
      const read = await this.gateway.get(this.record.m365GroupId);
      if (read.ok) return { account: read.value, takeover: false };
      if (read.error.kind !== 'not_found') throw await this.failure(read.error);
      if (this.connection.settings.deletedAccountPolicy === 'error') {
        throw await this.permanent({ code: 'M365_GROUP_DELETED', message: `The linked Microsoft 365 group ${this.record.m365GroupId} no longer exists; the connection's deletedAccountPolicy is "error", so it is not re-created.` });
      }
      this.log.warn('the linked Microsoft 365 group is gone; linking again', { m365GroupId: this.record.m365GroupId });
      this.record = { ...this.record, m365GroupId: undefined, pendingWrite: undefined, pendingMembers: undefined };
    }
    return this.linkOrCreate(group);
  }

  /** A new link: later writes and passes are counted afresh, and its create event is recorded with the first write. */
  private relink(m365GroupId: string): GroupSyncRecord {
    return { ...this.record, m365GroupId, linkCount: this.record.linkCount + 1, pendingWrite: undefined, pendingMembers: undefined, membersDigest: undefined };
  }

  /**
   * Takes over the one plain security group with the same name or mailNickname that no other bound
   * group of the connection holds, or creates one. A create whose answer was lost is found by name
   * on the next run and taken over.
   */
  private async linkOrCreate(group: Group): Promise<{ account: M365Group; takeover: boolean }> {
    const mailNickname = mailNicknameFor(group);
    const found = await this.gateway.findByNameOrNickname(group.name, mailNickname);
    if (!found.ok) throw await this.failure(found.error);
    const eligible = found.value.filter(isPlainSecurityGroup);
    const taken = await this.linkedElsewhere(eligible.map((g) => g.id));
    const candidates = eligible.filter((g) => !taken.has(g.id));
    if (candidates.length === 1) {
      const account = candidates[0] as M365Group;
      this.record = this.relink(account.id);
      this.log.info('existing Microsoft 365 group taken over', { m365GroupId: account.id });
      return { account, takeover: true };
    }
    if (candidates.length > 1) this.log.info('several Microsoft 365 groups match the name; creating a new one', { matches: candidates.length });

    const created = await this.gateway.createSecurityGroup({ displayName: group.name, mailNickname, ...(group.description === undefined ? {} : { description: group.description }) });
    if (!created.ok) throw await this.failure(created.error);
    this.record = this.relink(created.value.id);
    const changed = ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled', ...(group.description === undefined ? [] : ['description'])];
    await this.recordEvents([{ type: 'group_create_provision', version: `link:${this.record.linkCount}`, changedAttributes: changed }], created.value.id);
    // Checkpoint: the next run must find the group linked even if this one dies now.
    await this.checkpoint();
    this.log.info('Microsoft 365 security group created', { m365GroupId: created.value.id });
    return { account: created.value, takeover: false };
  }

  private async linkedElsewhere(m365GroupIds: readonly string[]): Promise<Set<string>> {
    if (m365GroupIds.length === 0) return new Set();
    const page = await this.deps.store.query<GroupSyncRecord>('bindings', {
      pk: this.connection.id,
      where: [
        { field: 'kind', op: 'eq', value: 'm365group' },
        { field: 'm365GroupId', op: 'in', values: m365GroupIds },
      ],
      limit: 1000,
    });
    return new Set(page.items.filter((doc) => doc.data.groupId !== this.record.groupId).map((doc) => doc.data.m365GroupId as string));
  }

  // ---- attributes ------------------------------------------------------------------------------

  private async syncAttributes(account: M365Group, group: Group, takeover: boolean): Promise<void> {
    const current = await this.resolvePendingWrite(account);
    const patch: { displayName?: string; description?: string | null } = {};
    if (current.displayName !== group.name) patch.displayName = group.name;
    if (!sameDescription(current.description, group.description)) patch.description = group.description ?? null;
    const changed = Object.keys(patch);
    const events: EventSpec[] = [];
    if (takeover) events.push({ type: 'group_create_provision', version: `link:${this.record.linkCount}`, changedAttributes: changed });
    else if (changed.length > 0) events.push({ type: 'group_update_provision', version: '', changedAttributes: changed });
    if (events.length > 0) await this.write(current.id, patch, events);
  }

  /** Names the write and its events on the record before Graph is called (see provision-user's `write`). */
  private async write(m365GroupId: string, attributes: M365GroupPatch, events: readonly EventSpec[]): Promise<void> {
    const seq = this.record.writeSeq + 1;
    const named = events.map((e) => ({ ...e, version: e.version === '' ? `write:${seq}` : e.version }));
    this.record = { ...this.record, pendingWrite: { seq, attributes, events: named } };
    await this.checkpoint();
    if (Object.keys(attributes).length > 0) {
      const updated = await this.gateway.update(m365GroupId, attributes);
      if (!updated.ok) throw await this.failure(updated.error);
    }
    await this.recordEvents(named, m365GroupId);
    this.record = { ...this.record, writeSeq: seq, pendingWrite: undefined };
  }

  /** Records the events of a write an earlier run started when the group shows it happened; drops it otherwise. */
  private async resolvePendingWrite(account: M365Group): Promise<M365Group> {
    const pending = this.record.pendingWrite;
    if (pending === undefined) return account;
    const held =
      (pending.attributes.displayName === undefined || pending.attributes.displayName === account.displayName) &&
      (pending.attributes.description === undefined || sameDescription(pending.attributes.description, account.description));
    if (held) await this.recordEvents(pending.events, account.id);
    this.record = { ...this.record, writeSeq: pending.seq, pendingWrite: undefined };
    return account;
  }

  // ---- members ---------------------------------------------------------------------------------

  /**
   * Adds the desired members the group lacks and removes the ones it should not hold, 20 per round
   * trip, and records one membership event with the counts. Returns false when some change could
   * not be made for good (logged), so the reconciler tries the group again.
   */
  private async syncMembers(m365GroupId: string, desired: DesiredMembers): Promise<boolean> {
    const listed = await this.gateway.memberIds(m365GroupId);
    if (!listed.ok) throw await this.failure(listed.error);
    const actual = new Set(listed.value);
    let pass: PendingMemberPass = this.record.pendingMembers ?? { seq: this.record.memberPassSeq + 1, added: 0, removed: 0 };
    if (pass.inFlight !== undefined) {
      // Sent by a run that died before its answer was recorded: what the group holds now tells.
      const added = pass.inFlight.filter((c) => c.op === 'add' && actual.has(c.memberId)).length;
      const removed = pass.inFlight.filter((c) => c.op === 'remove' && !actual.has(c.memberId)).length;
      pass = { seq: pass.seq, added: pass.added + added, removed: pass.removed + removed };
    }
    const changes: MemberChange[] = [
      ...[...desired.include].filter((id) => !actual.has(id)).map((memberId) => ({ op: 'add' as const, memberId })),
      ...[...actual].filter((id) => !desired.include.has(id) && !desired.keep.has(id)).map((memberId) => ({ op: 'remove' as const, memberId })),
    ];
    let complete = true;
    for (let start = 0; start < changes.length; start += maxMemberChangesPerCall) {
      const chunk = changes.slice(start, start + maxMemberChangesPerCall);
      this.record = { ...this.record, pendingMembers: { ...pass, inFlight: chunk } };
      await this.checkpoint();
      const answered = await this.gateway.changeMembers(m365GroupId, chunk);
      if (!answered.ok) throw await this.failure(answered.error);
      let added = 0;
      let removed = 0;
      let stop: GatewayFailure | undefined;
      const transient: GatewayFailure[] = [];
      for (const result of answered.value) {
        if (result.status === 'applied') {
          if (result.change.op === 'add') added += 1;
          else removed += 1;
        } else if (result.status === 'failed') {
          const failure = result.failure;
          if (failure.kind === 'transient') transient.push(failure);
          else if (failure.kind === 'stop') stop = failure;
          else {
            complete = false;
            this.log.warn('a member change failed; the group is tried again at the next reconciliation', { op: result.change.op, memberId: result.change.memberId, code: failure.code, message: failure.message });
          }
        }
      }
      pass = { seq: pass.seq, added: pass.added + added, removed: pass.removed + removed };
      this.record = { ...this.record, pendingMembers: pass };
      const retry = stop ?? mostPressing(transient);
      if (retry !== undefined) {
        await this.checkpoint();
        throw await this.failure(retry);
      }
    }
    if (pass.added + pass.removed > 0) {
      await this.recordEvents([{ type: 'group_membership_provision', version: `members:${pass.seq}`, changedAttributes: ['members'] }], m365GroupId, { addedMembers: pass.added, removedMembers: pass.removed });
      this.record = { ...this.record, memberPassSeq: pass.seq };
      this.log.info('group members brought in step', { m365GroupId, added: pass.added, removed: pass.removed });
    }
    this.record = { ...this.record, pendingMembers: undefined };
    return complete;
  }

  // ---- unbound: let the group go -------------------------------------------------------------

  /** The group is no longer bound: the Microsoft 365 group stays (or is deleted, by setting) and the record goes. */
  private async letGo(): Promise<GroupSyncOutcome> {
    const m365GroupId = this.record.m365GroupId;
    const deleteGroup = m365GroupId !== undefined && this.connection.settings.deleteGroupOnUnbind === true;
    if (deleteGroup) {
      const deleted = await this.gateway.delete(m365GroupId);
      if (!deleted.ok) throw await this.failure(deleted.error);
      this.log.info('Microsoft 365 group deleted with its unbound directory group', { m365GroupId });
    }
    const current = await readGroupSyncRecord(this.deps.store, this.connection.id, this.record.groupId);
    if (current !== undefined && current.data.incarnation === this.record.incarnation && current.data.changeSeq === this.startChangeSeq) {
      const removed = await this.deps.store.delete('bindings', this.connection.id, groupSyncRecordId(this.record.groupId), { ifMatch: current.etag });
      if (removed.ok) return { kind: 'done', detail: deleteGroup ? 'unbound; Microsoft 365 group deleted' : 'unbound; Microsoft 365 group left as it is' };
    }
    // Bound again meanwhile: the newer nudge links afresh (to a new group if this one was deleted).
    if (deleteGroup) this.record = { ...this.record, m365GroupId: undefined, pendingWrite: undefined, pendingMembers: undefined, membersDigest: undefined };
    await this.finish({ handled: true, digest: undefined });
    return { kind: 'done', detail: 'unbound, then bound again' };
  }

  // ---- events, failures and the record -------------------------------------------------------

  private async recordEvents(events: readonly EventSpec[], m365GroupId: string, counts?: Pick<ProvisioningEvent, 'addedMembers' | 'removedMembers'>): Promise<void> {
    const at = this.now().toISOString();
    for (const event of events) {
      const id = provisioningEventId(this.connection.id, this.record.groupId, event.type, this.record.incarnation, event.version);
      const recorded = await recordEvent(this.deps, {
        id,
        type: event.type,
        connectionId: this.connection.id,
        groupId: this.record.groupId,
        m365GroupId,
        changedAttributes: [...event.changedAttributes].sort(),
        ...counts,
        at,
      });
      if (!recorded) this.log.debug('event was recorded before', { eventId: id, type: event.type });
    }
  }

  private async failure(failure: GatewayFailure): Promise<RunStop> {
    const response = respondToFailure(failure, { nowMs: this.now().getTime(), hop: this.nudge.hop, throttleBackoff: retryBackoff, reauthorizationBackoff: notActiveWait });
    const error = { code: failure.code, message: failure.message };
    switch (response.kind) {
      case 'throttled':
        this.deps.throttle.throttled(this.connection.id, response.untilMs);
        return new RunStop({ kind: 'again', untilMs: response.untilMs, detail: `throttled: ${failure.message}` });
      case 'reauthorization':
        return new RunStop({ kind: 'again', untilMs: response.untilMs, detail: failure.message });
      case 'retry':
        return this.counted(error, response.retryAfterMs);
      case 'permanent':
        if (response.connectionRefused) this.log.error('Graph refused the connection; the group waits for a change or the reconciler', { code: failure.code });
        return this.permanent(error);
    }
  }

  private async permanent(error: { code: string; message: string }): Promise<RunStop> {
    this.log.warn('group sync failed; waiting for a change or the reconciler', error);
    await this.recordFailure({ code: error.code, message: error.message, at: this.now().toISOString() }, this.record.attempts + 1, true);
    return new RunStop({ kind: 'done', detail: `error:${error.code}` });
  }

  private async counted(error: { code: string; message: string }, retryAfterMs?: number): Promise<RunStop> {
    const stamped: BindingError = { ...error, at: this.now().toISOString() };
    const attempts = this.record.attempts + 1;
    if (attempts >= this.deps.maxAttempts) {
      this.log.error('group sync gave up after its last attempt; the reconciler retries it later', { attempts, ...error });
      await this.recordFailure(stamped, attempts, true);
      return new RunStop({ kind: 'done', detail: `gave up: ${error.code}` });
    }
    const waitMs = Math.max(retryAfterMs ?? 0, backoffDelayMs(attempts - 1, retryBackoff));
    this.log.warn('group sync failed; retrying later', { attempts, retryInMs: waitMs, ...error });
    await this.recordFailure(stamped, attempts, false);
    return new RunStop({ kind: 'again', untilMs: this.now().getTime() + waitMs, detail: `retry: ${error.code}` });
  }

  private async recordFailure(lastError: BindingError, attempts: number, handled: boolean): Promise<void> {
    this.record = { ...this.record, lastError, attempts };
    await this.save((current) => ({
      ...this.merged(current),
      lastError,
      attempts,
      handledChangeSeq: handled ? Math.max(current.handledChangeSeq, this.startChangeSeq) : current.handledChangeSeq,
    }));
  }

  /** Saves what this run learnt so far (a link, a pending write or pass) before calling Graph again. */
  private async checkpoint(): Promise<void> {
    if (!(await this.save((current) => this.merged(current)))) {
      // Removed while running (de-authorization): stop before touching Graph again.
      throw new RunStop({ kind: 'done', detail: 'sync record removed while running' });
    }
  }

  private async finish(change: { handled: boolean; digest: string | undefined }): Promise<void> {
    const at = this.now().toISOString();
    await this.save((current) => ({
      ...this.merged(current),
      lastError: undefined,
      attempts: 0,
      lastSyncedAt: at,
      membersDigest: change.digest,
      handledChangeSeq: change.handled ? Math.max(current.handledChangeSeq, this.startChangeSeq) : current.handledChangeSeq,
    }));
  }

  /** Writes the record unless it was removed or replaced meanwhile; false then. */
  private async save(change: (current: GroupSyncRecord) => GroupSyncRecord): Promise<boolean> {
    const incarnation = this.record.incarnation;
    const at = this.now().toISOString();
    const stored = await mutateGroupSyncRecord(this.deps.store, this.connection.id, this.record.groupId, (current) =>
      current === undefined || current.incarnation !== incarnation ? undefined : { ...change(current), updatedAt: at },
    );
    return stored !== undefined && stored.data.incarnation === incarnation;
  }

  /** The fields this run owns, over the stored record, whose change counter nudges may have bumped meanwhile. */
  private merged(current: GroupSyncRecord): GroupSyncRecord {
    const mine = this.record;
    return {
      ...current,
      m365GroupId: mine.m365GroupId,
      anchor: mine.anchor,
      linkCount: mine.linkCount,
      writeSeq: mine.writeSeq,
      pendingWrite: mine.pendingWrite,
      memberPassSeq: mine.memberPassSeq,
      pendingMembers: mine.pendingMembers,
      membersDigest: mine.membersDigest,
    };
  }
}

/** The failure to wait for among a chunk's transient ones: a throttled one with the longest Retry-After. */
function mostPressing(failures: readonly GatewayFailure[]): GatewayFailure | undefined {
  let chosen: GatewayFailure | undefined;
  for (const failure of failures) {
    if (failure.kind !== 'transient') continue;
    if (chosen === undefined || chosen.kind !== 'transient') {
      chosen = failure;
      continue;
    }
    const later = (failure.retryAfterMs ?? 0) > (chosen.retryAfterMs ?? 0);
    if ((failure.throttled && !chosen.throttled) || (failure.throttled === chosen.throttled && later)) chosen = failure;
  }
  return chosen;
}

/**
 * The use case behind one group-sync nudge. Drops nudges a later run covered, whose record is gone
 * or whose connection is de-authorized; waits while the connection cannot be used or Graph throttles
 * it; otherwise brings the group in step.
 */
export async function syncGroup(deps: GroupSyncDeps, nudge: GroupSyncNudge): Promise<GroupSyncOutcome> {
  const connection = await readConnection(deps.store, nudge.connectionId);
  if (connection === undefined || connection.status === 'deauthorized' || connection.status === 'pending_consent') {
    return { kind: 'done', detail: `connection ${connection?.status ?? 'missing'}` };
  }
  const doc = await readGroupSyncRecord(deps.store, nudge.connectionId, nudge.groupId);
  if (doc === undefined || doc.data.incarnation !== nudge.incarnation) return { kind: 'done', detail: 'no sync record for this nudge' };
  const record = doc.data;
  const unfinished = record.pendingWrite !== undefined || record.pendingMembers !== undefined;
  if (nudge.changeSeq <= record.handledChangeSeq && !unfinished) return { kind: 'done', detail: 'handled already' };
  // A rescheduled nudge gives way to a newer one, which was sent when the record was bumped.
  if (nudge.hop > 0 && nudge.changeSeq < record.changeSeq) return { kind: 'done', detail: 'superseded' };
  const nowMs = deps.clock.now().getTime();
  // A paused connection holds back deactivations only; groups carry on.
  if (connection.status !== 'active' && connection.status !== 'sync_paused') {
    return { kind: 'again', untilMs: nowMs + backoffDelayMs(nudge.hop, notActiveWait), detail: `connection is ${connection.status}` };
  }
  const notBefore = deps.throttle.waitUntil(connection.id, nowMs);
  if (notBefore !== undefined) return { kind: 'again', untilMs: notBefore + Math.round(Math.random() * 250), detail: 'connection throttled' };
  return new GroupSyncRun(deps, connection, record, nudge).run();
}
