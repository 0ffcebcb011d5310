import { backoffDelayMs } from '../backoff';
import type { ConnectionRecord, LicenseSetting } from '../connections/connection';
import { toUser, type UserRecord } from '../directory/user-records';
import type { User } from '../directory/user-schemas';
import type { Clock } from '../ports/clock';
import type { DocumentStore, StoredDocument } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { SecretStore } from '../ports/secret-store';
import type { MessageSender } from '../ports/work-queue';
import { writeDigest, type DeactivationGuard, type GuardedChange } from '../reconcile/deactivation-guard';
import { desiredAttributes, differingAttributes, holdsAttributes, managedProperties, valuedProperties, type ExportAttributeRule } from './attribute-mapping';
import { isBound, pendingPasswordSecretName, type BindingError, type BindingState, type PendingEvent, type PendingWrite, type UserBindingRecord } from './binding';
import { mutateUserBinding, readUserBinding } from './binding-records';
import { boundConnectionOf, nudgeUser } from './bind-user';
import type { ConnectionThrottle } from './connection-throttle';
import { generateInitialPassword } from './initial-password';
import { respondToFailure } from './failure-response';
import type { AssignedLicense, GatewayFailure, M365Attributes, SubscribedSku, M365User, M365UserGateway, M365UserGateways, M365UserProperty } from './m365-user-gateway';
import type { NudgeReason, UserNudge } from './nudges';
import { deletionDue, revokesSessionsOnDeprovision } from './lifecycle-settings';
import { graphRefusedPrivileged, isProtected, privilegedRefusal, privilegeOf, riskyChanges, type RiskyChange } from './privileged-accounts';
import { planLicenses, planRemovals } from './license-plan';
import { ok } from '../result';
import { managesLicenses, wantedLicenses } from './wanted-licenses';
import { licensingPermissions, markConsentUpgradeRequired } from '../connections/consent-upgrade';
import { provisioningEventId, recordEvent } from './provisioning-events';
import type { Metrics } from '../ports/metrics';

export interface ProvisionUserDeps {
  readonly store: DocumentStore;
  readonly sender: MessageSender;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly secrets: SecretStore;
  readonly gateways: M365UserGateways;
  readonly throttle: ConnectionThrottle;
  /** Failed attempts after which the binding shows `error` and the nudge is dead-lettered. */
  readonly maxAttempts: number;
  /** Asked before an account is disabled, deleted or written to (the mass-change guard); absent, nothing is ever held. */
  readonly deactivationGuard?: DeactivationGuard;
  /** Counts recorded events and failed attempts; absent, nothing is counted. */
  readonly metrics?: Metrics;
}

/**
 * What the worker did with a nudge. `wait`: try again at `untilMs` without counting a failure (the
 * connection is not active, or Graph throttles it). `retry`: a counted transient failure.
 * `gave_up`: attempts ran out; the binding shows `error` and the nudge is dead-lettered.
 */
export type ProvisionOutcome =
  | { readonly kind: 'done'; readonly detail: string }
  | { readonly kind: 'wait'; readonly untilMs: number; readonly detail: string }
  | { readonly kind: 'retry'; readonly untilMs: number; readonly error: BindingError }
  | { readonly kind: 'gave_up'; readonly error: BindingError };

const notActiveWaitMs = { firstMs: 5_000, maxMs: 60_000 };
/**
 * Nudges sent many at once (a group bind, a reconcile run): their writes wait for the burst to be
 * counted. Corrections from change notifications arrive one by one and are meant to land in
 * seconds: they are counted without waiting.
 */
const fanOutReasons: ReadonlySet<NudgeReason> = new Set(['bind', 'group_membership', 'reconcile']);
const retryBackoff = { firstMs: 500, maxMs: 120_000 };

/** The Graph write of one step: attributes to PATCH, a password to set, a manager reference to change. */
interface WriteSpec {
  readonly attributes: M365Attributes;
  readonly password?: string;
  readonly manager?: string | null;
  /** Revoke the account's sign-in sessions once the attributes are written (it is being disabled). */
  readonly revokeSessions?: boolean;
  readonly events: PendingWrite['events'];
}

/** The event of disabling an account; its id is fixed once the write's sequence number is known. */
function deprovisionEvent(changedAttributes: readonly string[], sessionsRevoked: boolean): PendingEvent {
  return { type: 'user_deprovision', version: '', changedAttributes, ...(sessionsRevoked ? { sessionsRevoked: true } : {}) };
}

/** A failure that ends the run, already classified. */
class RunStop {
  constructor(readonly outcome: ProvisionOutcome) {}
}

/**
 * One run of the worker for one user on one connection: reads what is wanted (directory user,
 * binding, connection settings) and what is (the Microsoft 365 account), writes the difference and
 * records one event per effective change. Safe to run again at any point: a redelivery or a crash
 * between Graph's answer and the store write never creates a second account or records a second
 * event (see `PendingWrite`).
 */
class UserProvisioningRun {
  private binding: UserBindingRecord;
  /** The binding document as last read or written here, so writes skip a read when nothing changed it. */
  private stored: StoredDocument<UserBindingRecord>;
  private readonly startChangeSeq: number;
  /** Every change the run finds outstanding is an edit of the user's own attributes (see `guardedChangeSeq`). */
  private readonly userEditsOnly: boolean;
  private logger: Logger | undefined;
  private readonly rules: ReadonlySet<ExportAttributeRule>;
  private readonly select: readonly M365UserProperty[];
  private readonly gateway: M365UserGateway;
  private note: string | undefined;
  /** The linked account was found deleted by someone else: there is nothing left for us to delete. */
  private accountGone = false;
  /** What the account holds once this run's writes are done; stored only when the run finishes them. */
  private inStep: Pick<UserBindingRecord, 'valuedProperties' | 'managedAttributes'> | undefined;

  constructor(
    private readonly deps: ProvisionUserDeps,
    private readonly connection: ConnectionRecord,
    stored: StoredDocument<UserBindingRecord>,
    private readonly user: User | undefined,
    private readonly nudge: UserNudge,
  ) {
    this.stored = stored;
    this.binding = stored.data;
    this.startChangeSeq = stored.data.changeSeq;
    const guarded = stored.data.guardedChangeSeq;
    // Whichever nudge runs first carries what is outstanding; a binding from before the field was kept goes by the nudge.
    this.userEditsOnly = guarded === undefined ? nudge.reason === 'user_changed' : guarded <= stored.data.handledChangeSeq;
    this.note = stored.data.note;
    this.rules = new Set(connection.settings.exportAttributes);
    this.select = managesLicenses(connection, stored.data) ? [...managedProperties(this.rules), 'assignedLicenses'] : managedProperties(this.rules);
    this.gateway = deps.throttle.observe(connection.id, deps.gateways.forConnection(connection.id));
  }

  async run(): Promise<ProvisionOutcome> {
    try {
      const linksBefore = this.binding.linkCount;
      const state = this.user !== undefined && isBound(this.binding.via) ? await this.provision(this.user) : await this.deprovision();
      if (state === 'deprovisioned') await this.deleteAfterGrace();
      await this.finish(state);
      if (this.rules.has('manager') && this.binding.linkCount > linksBefore) await this.nudgeReports();
      return { kind: 'done', detail: state };
    } catch (error) {
      if (error instanceof RunStop) return error.outcome;
      throw error;
    }
  }

  private now(): Date {
    return this.deps.clock.now();
  }

  // Made on first use: most runs log nothing.
  private get log(): Logger {
    this.logger ??= this.deps.logger.child({ connectionId: this.connection.id, userId: this.binding.userId, changeSeq: this.nudge.changeSeq, reason: this.nudge.reason });
    return this.logger;
  }

  /** Read-modify-write of the binding, starting from the copy this run holds. */
  private async mutate(change: (current: UserBindingRecord | undefined) => UserBindingRecord | undefined): Promise<StoredDocument<UserBindingRecord> | undefined> {
    const stored = await mutateUserBinding(this.deps.store, this.connection.id, this.binding.userId, change, this.stored);
    if (stored !== undefined) this.stored = stored;
    return stored;
  }

  // ---- the two flows ------------------------------------------------------------------------

  private async deprovision(): Promise<BindingState> {
    const id = this.binding.m365UserId;
    // Deleted after its grace period: nothing left to deactivate.
    if (id === undefined || (this.binding.deletedAt !== undefined && this.binding.pendingWrite === undefined)) return 'deprovisioned';
    // A write left pending by an earlier run is judged on every attribute it set.
    // Licences this service assigned may have to go: those of groups the user left, or all of them by setting.
    const removesLicenses = (this.binding.licenses ?? []).length > 0;
    const read = await this.gateway.get(id, this.binding.pendingWrite === undefined && !removesLicenses ? ['id', 'userPrincipalName', 'accountEnabled'] : this.select);
    if (!read.ok) {
      // Gone already: nothing left to deactivate.
      if (read.error.kind === 'not_found') {
        await this.accountNotFound(id);
        return 'deprovisioned';
      }
      throw await this.failure(read.error);
    }
    const account = await this.resolvePendingWrite(read.value);
    if (account.accountEnabled !== false) {
      await this.protectPrivileged(account, riskyChanges(account, { accountEnabled: false }, false));
      await this.admitChange(account.id, 'deactivate', { accountEnabled: false }, false);
      const revokeSessions = revokesSessionsOnDeprovision(this.connection.settings);
      await this.write(account, { attributes: { accountEnabled: false }, revokeSessions, events: [deprovisionEvent(['accountEnabled'], revokeSessions)] });
    }
    if (removesLicenses) {
      const wanted = this.connection.settings.removeLicensesOnDeprovision === true ? [] : await wantedLicenses(this.deps.store, this.connection, this.binding);
      await this.syncLicenses(account, wanted, 'remove_only');
    }
    return 'deprovisioned';
  }

  private async provision(user: User): Promise<BindingState> {
    const enabled = user.state === 'active';
    const desired = desiredAttributes(user, this.rules, enabled, { kept: this.binding.keptNames, emptyValues: this.connection.settings.emptyValues, valued: this.binding.valuedProperties });
    this.inStep = { valuedProperties: valuedProperties(user), managedAttributes: Object.keys(desired).sort() };
    let account: M365User | undefined;
    let lostId: string | undefined;
    if (this.binding.m365UserId !== undefined) {
      const read = await this.gateway.get(this.binding.m365UserId, this.select);
      if (read.ok) {
        account = await this.resolvePendingWrite(read.value);
      } else if (read.error.kind !== 'not_found') {
        throw await this.failure(read.error);
      } else if ((await this.accountNotFound(this.binding.m365UserId)) === 'deleted_by_us') {
        // Deleted after its grace period: a suspended user's account stays deleted; an active one's comes back.
        if (!enabled) return 'deprovisioned';
        account = await this.restoreDeleted(this.binding.m365UserId);
      } else {
        if (this.connection.settings.deletedAccountPolicy === 'error') {
          throw await this.permanent({ code: 'M365_ACCOUNT_DELETED', message: `The linked Microsoft 365 account ${this.binding.m365UserId} no longer exists; the connection's deletedAccountPolicy is "error", so it is not re-created.` });
        }
        lostId = this.binding.m365UserId;
      }
    }

    let takeover = false;
    if (account === undefined) {
      const linked = await this.link(desired, lostId);
      account = linked.account;
      takeover = linked.takeover;
    }

    const attributes = differingAttributes(desired, account);
    const password = await this.pendingPassword();
    const manager = await this.managerChange(user);
    const changed = Object.keys(attributes);
    if (manager !== undefined) changed.push('manager');
    // Whoever disables an account signs it out too, a take-over included.
    const revokeSessions = attributes.accountEnabled === false && revokesSessionsOnDeprovision(this.connection.settings);
    const events: PendingEvent[] = [];
    if (takeover) {
      events.push({ type: 'user_create_provision', version: `link:${this.binding.linkCount}`, changedAttributes: changed });
    } else if (attributes.accountEnabled === false) {
      events.push(deprovisionEvent(changed, revokeSessions));
    } else if (changed.length > 0) {
      events.push({ type: 'user_update_provision', version: '', changedAttributes: changed });
    }
    if (password !== undefined) events.push({ type: 'user_password_update_provision', version: '', changedAttributes: ['passwordProfile'] });
    if (events.length > 0) {
      await this.protectPrivileged(account, riskyChanges(account, attributes, password !== undefined));
      // Taking over an account for a suspended user is a link, not one of our accounts going dark.
      if (attributes.accountEnabled === false && !takeover) await this.admitChange(account.id, 'deactivate', attributes, password !== undefined);
      else if (changed.length > 0 || password !== undefined) await this.admitChange(account.id, 'userPrincipalName' in attributes ? 'rename' : 'update', attributes, password !== undefined, manager);
      await this.write(account, { attributes, ...(password === undefined ? {} : { password }), ...(manager === undefined ? {} : { manager }), revokeSessions, events });
    }
    if (managesLicenses(this.connection, this.binding)) {
      const keep = enabled || this.connection.settings.removeLicensesOnDeprovision !== true;
      // The usage location this run may just have written counts.
      const usageLocation = 'usageLocation' in attributes ? attributes.usageLocation : account.usageLocation;
      await this.syncLicenses({ ...account, usageLocation }, keep ? await wantedLicenses(this.deps.store, this.connection, this.binding) : []);
    }
    return enabled ? 'provisioned' : 'deprovisioned';
  }

  /**
   * Refuses to disable, re-password or rename a privileged account (a privileged role holder, or
   * the account the connection was consented with) unless its binding says `allowPrivileged`: the
   * binding shows `PRIVILEGED_ACCOUNT` and nothing is written. The role holders are read only when
   * a write would do one of these things.
   */
  private async protectPrivileged(account: M365User, changes: readonly RiskyChange[]): Promise<void> {
    if (changes.length === 0 || this.binding.allowPrivileged === true) return;
    const consenting = privilegeOf(this.connection, new Set(), account.id);
    let privilege = consenting;
    if (!consenting.consentingAccount) {
      const holders = await this.gateway.privilegedRoleHolders();
      if (!holders.ok) throw await this.failure(holders.error);
      privilege = privilegeOf(this.connection, holders.value, account.id);
    }
    if (isProtected(privilege)) throw await this.permanent(privilegedRefusal(account, privilege, changes, this.connection.id, this.binding.userId));
  }

  /**
   * Asks the mass-change guard before disabling, deleting or writing to an existing account. A
   * change that must wait for its burst to settle is rescheduled; a held one ends the run without
   * writing, the binding `pending` until an admin confirms (the guard nudges it again) or cancels it.
   */
  private async admitChange(m365UserId: string, change: GuardedChange, attributes: M365Attributes, passwordSet: boolean, manager?: string | null): Promise<void> {
    const guard = this.deps.deactivationGuard;
    if (guard === undefined) return;
    // An admin's (or an HR feed's) edit of this user's attributes is the change itself, made one user
    // at a time: it is not counted (unless it would carry a held write along). What a settings change,
    // bind or reconcile fans out is, and so are renames, passwords, disables and deletes whatever their cause.
    const names = [...Object.keys(attributes), ...(passwordSet ? ['passwordProfile'] : []), ...(manager === undefined ? [] : ['manager'])];
    const verdict = await guard.admit({
      connectionId: this.connection.id,
      userId: this.binding.userId,
      incarnation: this.binding.incarnation,
      changeSeq: this.startChangeSeq,
      m365UserId,
      change,
      attributes: names,
      // The manager link is part of the write: a confirmed plan lets through only the link it listed.
      digest: writeDigest(manager === undefined ? attributes : { ...attributes, manager }, passwordSet),
      burst: fanOutReasons.has(this.nudge.reason),
      userEdit: change === 'update' && !passwordSet && this.userEditsOnly,
    });
    switch (verdict.kind) {
      case 'proceed':
        return;
      case 'wait':
        throw new RunStop({ kind: 'wait', untilMs: verdict.untilMs, detail: `${change} waits for its burst to be counted` });
      case 'held':
        this.log.warn(`${change} held by the mass-change guard until an admin confirms or cancels it`, { m365UserId, attributes: names });
        await this.finish('pending');
        throw new RunStop({ kind: 'done', detail: 'deactivation held' });
    }
  }

  // ---- delete after a grace period, restore on rebind -------------------------------------------

  /**
   * The linked account is not there. A delete this service left pending is finished (its event
   * recorded); any other pending write is dropped. Says whether the account is one we deleted.
   */
  private async accountNotFound(m365UserId: string): Promise<'deleted_by_us' | 'gone'> {
    const pending = this.binding.pendingWrite;
    if (pending?.action === 'delete') await this.settleDelete(pending, m365UserId);
    else this.binding = { ...this.binding, pendingWrite: undefined };
    if (this.binding.deletedAt !== undefined) return 'deleted_by_us';
    this.accountGone = true;
    return 'gone';
  }

  /**
   * `disable_then_delete`: deletes the account once it has been disabled for `deleteAfterDays`. A
   * delete counts toward the mass-change guard like a deactivation; the consenting administrator's
   * account is never deleted.
   */
  private async deleteAfterGrace(): Promise<void> {
    const id = this.binding.m365UserId;
    if (id === undefined || this.accountGone || !deletionDue(this.connection.settings, this.binding, this.now().getTime())) return;
    if (this.connection.consentedBy?.objectId === id) {
      this.note = "the account of the administrator who consented the connection is never deleted; it stays disabled";
      return;
    }
    await this.protectPrivileged({ id, userPrincipalName: id }, ['delete']);
    await this.admitChange(id, 'delete', {}, false);
    const seq = this.binding.writeSeq + 1;
    const pending: PendingWrite = { seq, attributes: {}, password: false, action: 'delete', events: [{ type: 'user_delete_provision', version: `write:${seq}`, changedAttributes: [] }] };
    this.binding = { ...this.binding, pendingWrite: pending };
    await this.checkpoint();
    const deleted = await this.gateway.delete(id);
    // Not found: deleted already (our own delete whose answer was lost).
    if (!deleted.ok && deleted.error.kind !== 'not_found') throw await this.failure(deleted.error);
    await this.settleDelete(pending, id);
    this.log.info('Microsoft 365 account deleted after its grace period', { m365UserId: id });
  }

  private async settleDelete(pending: PendingWrite, m365UserId: string): Promise<void> {
    await this.record(pending.events, m365UserId);
    this.binding = { ...this.binding, writeSeq: pending.seq, pendingWrite: undefined, deletedAt: this.now().toISOString() };
  }

  /**
   * Restores the account deleted after its grace period, with its object id, while Entra still
   * has it (30 days): one `user_create_provision` with `restored: true`. Undefined when Entra no
   * longer has it; the binding forgets it and a new account is linked or created.
   */
  private async restoreDeleted(m365UserId: string): Promise<M365User | undefined> {
    const linkCount = this.binding.linkCount + 1;
    const pending: PendingWrite = {
      seq: this.binding.writeSeq + 1,
      attributes: {},
      password: false,
      action: 'restore',
      events: [{ type: 'user_create_provision', version: `link:${linkCount}`, changedAttributes: [], restored: true }],
    };
    this.binding = { ...this.binding, linkCount, pendingWrite: pending };
    await this.checkpoint();
    const restored = await this.gateway.restore(m365UserId);
    if (!restored.ok) {
      if (restored.error.kind !== 'not_found') throw await this.failure(restored.error);
      this.log.info('the deleted Microsoft 365 account is no longer restorable; linking a new one', { m365UserId });
      this.binding = { ...this.binding, m365UserId: undefined, deletedAt: undefined, pendingWrite: undefined };
      return undefined;
    }
    const read = await this.gateway.get(m365UserId, this.select);
    if (!read.ok) throw await this.failure(read.error);
    this.log.info('Microsoft 365 account restored from deleted items', { m365UserId });
    return this.resolvePendingWrite(read.value);
  }

  // ---- licences ---------------------------------------------------------------------------------

  /**
   * Assigns the wanted licences and removes the ones this service assigned that nobody wants any
   * more, in one `assignLicense`, recorded as `user_license_provision`. The tenant's subscribed
   * SKUs name the SKUs and count the seats; a connection consented before licences were managed
   * cannot read them (403): the connection is marked for a consent upgrade and the rest of the
   * run carries on.
   */
  private async syncLicenses(account: M365User, wanted: readonly LicenseSetting[], mode: 'assign' | 'remove_only' = 'assign'): Promise<void> {
    const managed = this.binding.licenses ?? [];
    if (wanted.length === 0 && managed.length === 0) return;
    const held = Array.isArray(account.assignedLicenses) ? (account.assignedLicenses as AssignedLicense[]) : [];
    let skus: SubscribedSku[] = [];
    if (mode === 'assign' && wanted.length > 0) {
      const read = await this.gateway.subscribedSkus();
      if (!read.ok) {
        if (read.error.kind === 'stop' && !read.error.reauthorizationRequired) {
          await markConsentUpgradeRequired(this.deps, this.connection.id, licensingPermissions, read.error.message);
          this.note = 'licences are not assigned: the connection was consented before licence management; a Global Administrator must consent again (see consentUpgrade on the connection)';
          return;
        }
        throw await this.failure(read.error);
      }
      skus = read.value;
    }
    const plan = mode === 'assign' ? planLicenses(wanted, skus, held, managed) : ok(planRemovals(wanted, held, managed));
    if (!plan.ok) throw await this.permanent(plan.error);
    if (plan.value.add.length === 0 && plan.value.remove.length === 0) {
      this.binding = { ...this.binding, licenses: plan.value.managed };
      return;
    }
    if (plan.value.add.length > 0 && (account.usageLocation ?? null) === null) await this.giveUsageLocation(account.id);
    const seq = this.binding.writeSeq + 1;
    const pending: PendingWrite = {
      seq,
      attributes: {},
      password: false,
      action: 'licenses',
      licenses: { add: plan.value.add.map((l) => l.skuId), remove: plan.value.remove },
      events: [{ type: 'user_license_provision', version: `write:${seq}`, changedAttributes: ['assignedLicenses'], addedLicenses: plan.value.added, removedLicenses: plan.value.removed }],
    };
    this.binding = { ...this.binding, pendingWrite: pending };
    await this.checkpoint();
    const assigned = await this.gateway.assignLicenses(account.id, plan.value.add, plan.value.remove);
    if (!assigned.ok) {
      // Refused: nothing was written, nothing is pending.
      if (assigned.error.kind === 'permanent') this.binding = { ...this.binding, pendingWrite: undefined };
      if (assigned.error.code === 'LICENSE_UNAVAILABLE') {
        // Taken between reading the seats and assigning: named by SKU, retried once one is free.
        throw await this.permanent({ code: 'LICENSE_UNAVAILABLE', message: `no free seat of ${plan.value.added.join(', ')}; the binding is tried again once a seat is free` });
      }
      throw await this.failure(assigned.error);
    }
    await this.record(pending.events, account.id);
    this.binding = { ...this.binding, writeSeq: seq, pendingWrite: undefined, licenses: plan.value.managed };
  }

  /** Licences need a usage location: the connection's default, or a clear error naming the fix. */
  private async giveUsageLocation(m365UserId: string): Promise<void> {
    const usageLocation = this.connection.settings.usageLocation;
    if (usageLocation === undefined) {
      throw await this.permanent({
        code: 'USAGE_LOCATION_REQUIRED',
        message: "licences need a usage location: the account has none and the connection's settings.usageLocation is not set (or export the usageLocation attribute)",
      });
    }
    const updated = await this.gateway.update(m365UserId, { attributes: { usageLocation } });
    if (!updated.ok) throw await this.failure(updated.error);
  }

  // ---- linking: take over by userPrincipalName, or create -------------------------------------

  /**
   * Finds the account by UPN and takes it over, or creates it. A create that finds the UPN taken
   * (a concurrent run, or our own create whose answer was lost) takes over what is there.
   */
  private async link(desired: M365Attributes, lostId: string | undefined): Promise<{ account: M365User; takeover: boolean }> {
    const upn = desired.userPrincipalName as string;
    const found = await this.gateway.findByUpn(upn, this.select);
    if (!found.ok) throw await this.failure(found.error);
    if (found.value !== undefined) return await this.takeOver(found.value, lostId);

    const attributes: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(desired)) {
      if (value !== null && !(Array.isArray(value) && value.length === 0)) attributes[name] = value;
    }
    const usageLocation = this.connection.settings.usageLocation;
    if (attributes.usageLocation === undefined && usageLocation !== undefined) attributes.usageLocation = usageLocation;
    // A pending directory password becomes the account's first one; otherwise nobody knows it.
    const pending = await this.pendingPassword();
    const created = await this.gateway.create({ attributes, passwordProfile: { password: pending ?? generateInitialPassword(), forceChangePasswordNextSignIn: false } });
    if (!created.ok) {
      if (created.error.kind !== 'exists') throw await this.failure(created.error);
      const again = await this.gateway.findByUpn(upn, this.select);
      if (!again.ok) throw await this.failure(again.error);
      // Taken but not readable yet: Graph's replication lag. The next attempt will see it.
      if (again.value === undefined) throw await this.failure({ kind: 'transient', code: created.error.code, message: `userPrincipalName ${upn} is taken but the account is not visible yet`, throttled: false });
      return await this.takeOver(again.value, lostId);
    }

    const account: M365User = { ...attributes, id: created.value.id, userPrincipalName: upn };
    const linkCount = this.binding.linkCount + 1;
    await this.record([{ type: 'user_create_provision', version: `link:${linkCount}`, changedAttributes: Object.keys(attributes) }], account.id);
    if (pending !== undefined) await this.consumePassword(pending);
    // Stored with the run's next write or at its end; a run that dies first takes the account over
    // by UPN next time, under the same link number, so the event above is not recorded twice.
    this.binding = { ...this.binding, m365UserId: account.id, linkCount };
    this.log.info('Microsoft 365 account created', { m365UserId: account.id });
    return { account, takeover: false };
  }

  private async takeOver(account: M365User, lostId: string | undefined): Promise<{ account: M365User; takeover: boolean }> {
    // The account we lost sight of is back (replication lag): same link, no new create event.
    if (account.id === lostId) {
      this.binding = { ...this.binding, m365UserId: account.id };
      return { account, takeover: false };
    }
    // One account, one directory user: an imported account keeps its own UPN, which may be another user's email.
    const holder = await this.boundUserLinkedTo(account.id);
    if (holder !== undefined) {
      throw await this.permanent({
        code: 'M365_ACCOUNT_LINKED_ELSEWHERE',
        message: `The Microsoft 365 account ${account.userPrincipalName} (${account.id}) is already linked to directory user ${holder} on this connection; it is not taken over for a second user.`,
      });
    }
    // The link and the create event are written with the take-over's first write (see `write`).
    this.binding = { ...this.binding, m365UserId: account.id, linkCount: this.binding.linkCount + 1 };
    this.log.info('existing Microsoft 365 account taken over', { m365UserId: account.id });
    return { account, takeover: true };
  }

  /** Another directory user bound on this connection and linked to this account, if any. */
  private async boundUserLinkedTo(accountId: string): Promise<string | undefined> {
    const page = await this.deps.store.query<UserBindingRecord>('bindings', {
      pk: this.connection.id,
      where: [
        { field: 'kind', op: 'eq', value: 'user' },
        { field: 'm365UserId', op: 'eq', value: accountId },
      ],
      limit: 10,
    });
    return page.items.map((doc) => doc.data).find((binding) => binding.userId !== this.binding.userId && isBound(binding.via))?.userId;
  }

  // ---- writes and their events ----------------------------------------------------------------

  /**
   * Writes through a pending-write record: the binding names the write and its events before Graph
   * is called, so a run that dies after Graph's answer is finished by the next one under the same
   * event ids (`resolvePendingWrite`).
   */
  private async write(account: M365User, spec: WriteSpec): Promise<void> {
    const seq = this.binding.writeSeq + 1;
    const events = spec.events.map((e) => ({ ...e, version: e.version === '' ? `write:${seq}` : e.version }));
    const pending: PendingWrite = {
      seq,
      attributes: spec.attributes,
      password: spec.password !== undefined,
      ...(spec.manager === undefined ? {} : { manager: spec.manager }),
      ...(spec.revokeSessions === true ? { revokeSessions: true as const } : {}),
      events,
    };
    this.binding = { ...this.binding, pendingWrite: pending };
    await this.checkpoint();
    if (Object.keys(spec.attributes).length > 0 || spec.password !== undefined) {
      const updated = await this.gateway.update(account.id, {
        attributes: spec.attributes,
        ...(spec.password === undefined ? {} : { passwordProfile: { password: spec.password, forceChangePasswordNextSignIn: false } }),
      });
      if (!updated.ok) {
        // Graph's 403 for an admin's password or sign-in: only a higher-privileged administrator may change those.
        const changes = riskyChanges(account, spec.attributes, spec.password !== undefined);
        if (updated.error.kind === 'stop' && !updated.error.reauthorizationRequired && changes.length > 0) throw await this.permanent(graphRefusedPrivileged(account, changes, updated.error.message));
        throw await this.failure(updated.error);
      }
    }
    if (spec.manager !== undefined) {
      const set = await this.gateway.setManager(account.id, spec.manager);
      if (!set.ok) throw await this.failure(set.error);
    }
    if (spec.revokeSessions === true) await this.revokeSessions(account.id);
    if (spec.password !== undefined) await this.consumePassword(spec.password);
    await this.record(events, account.id);
    this.binding = {
      ...this.binding,
      writeSeq: seq,
      pendingWrite: undefined,
      ...(spec.manager === undefined ? {} : { managerM365Id: spec.manager }),
    };
  }

  /**
   * Finishes the write an earlier run started: its events are recorded when the account shows it
   * happened (the attributes are held; the password secret was consumed), and dropped otherwise,
   * in which case this run writes again under the next sequence number.
   */
  private async resolvePendingWrite(account: M365User): Promise<M365User> {
    const pending = this.binding.pendingWrite;
    if (pending === undefined) return account;
    if (pending.action === 'licenses') {
      // Done when the account holds what was added and none of what was removed; otherwise planned again.
      const held = Array.isArray(account.assignedLicenses) ? (account.assignedLicenses as AssignedLicense[]).map((l) => l.skuId.toLowerCase()) : undefined;
      const done = held !== undefined && (pending.licenses?.add ?? []).every((id) => held.includes(id.toLowerCase())) && !(pending.licenses?.remove ?? []).some((id) => held.includes(id.toLowerCase()));
      if (done) await this.record(pending.events, account.id);
      this.binding = { ...this.binding, writeSeq: pending.seq, pendingWrite: undefined };
      return account;
    }
    if (pending.action !== undefined) {
      // The account is there: a restore happened, a delete did not (and is tried again when due).
      if (pending.action === 'restore') await this.record(pending.events, account.id);
      this.binding = { ...this.binding, writeSeq: pending.seq, pendingWrite: undefined, ...(pending.action === 'restore' ? { deletedAt: undefined } : {}) };
      return account;
    }
    const attributesHeld = holdsAttributes(pending.attributes, account);
    const passwordDone = !pending.password || (await this.deps.secrets.get(pendingPasswordSecretName(this.binding.userId))) === undefined;
    if (attributesHeld && pending.manager !== undefined) {
      // A manager reference cannot be read back cheaply; setting it again is harmless.
      const set = await this.gateway.setManager(account.id, pending.manager);
      if (!set.ok) throw await this.failure(set.error);
    }
    // Whether the revocation went through cannot be read back either; revoking again is harmless.
    if (attributesHeld && pending.revokeSessions === true) await this.revokeSessions(account.id);
    const done = pending.events.filter((e) => (e.type === 'user_password_update_provision' ? passwordDone : attributesHeld));
    await this.record(done, account.id);
    this.binding = {
      ...this.binding,
      writeSeq: pending.seq,
      pendingWrite: undefined,
      ...(attributesHeld && pending.manager !== undefined ? { managerM365Id: pending.manager } : {}),
    };
    return account;
  }

  private async record(events: PendingWrite['events'], m365UserId: string): Promise<void> {
    const at = this.now().toISOString();
    for (const event of events) {
      const id = provisioningEventId(this.connection.id, this.binding.userId, event.type, this.binding.incarnation, event.version);
      const recorded = await recordEvent(this.deps, {
        id,
        type: event.type,
        connectionId: this.connection.id,
        userId: this.binding.userId,
        m365UserId,
        changedAttributes: [...event.changedAttributes].sort(),
        ...(event.sessionsRevoked === true ? { sessionsRevoked: true } : {}),
        ...(event.restored === true ? { restored: true } : {}),
        ...(event.addedLicenses === undefined ? {} : { addedLicenses: event.addedLicenses, removedLicenses: event.removedLicenses ?? [] }),
        at,
      });
      if (!recorded) this.log.debug('event was recorded before', { eventId: id, type: event.type });
    }
  }

  private async revokeSessions(m365UserId: string): Promise<void> {
    const revoked = await this.gateway.revokeSessions(m365UserId);
    if (!revoked.ok) throw await this.failure(revoked.error);
  }

  // ---- password and manager -------------------------------------------------------------------

  private async pendingPassword(): Promise<string | undefined> {
    if (!this.binding.passwordPending) return undefined;
    const password = await this.deps.secrets.get(pendingPasswordSecretName(this.binding.userId));
    // Expired before it could be set: nothing to set, and nothing left to wait for.
    if (password === undefined) this.binding = { ...this.binding, passwordPending: false };
    return password;
  }

  private async consumePassword(used: string): Promise<void> {
    const name = pendingPasswordSecretName(this.binding.userId);
    // A newer password handed off meanwhile stays for the next run.
    if ((await this.deps.secrets.get(name)) === used) await this.deps.secrets.delete(name);
    this.binding = { ...this.binding, passwordPending: false };
  }

  /**
   * The manager reference to write (an object id, or null to remove it), or undefined to leave it.
   * Set only when the manager is bound to this connection and provisioned; skipped with a note otherwise.
   */
  private async managerChange(user: User): Promise<string | null | undefined> {
    if (!this.rules.has('manager')) return undefined;
    const current = this.binding.managerM365Id ?? null;
    if (user.managerId === undefined) {
      this.note = undefined;
      return current === null ? undefined : null;
    }
    const manager = await readUserBinding(this.deps.store, this.connection.id, user.managerId);
    const managerAccount = manager !== undefined && isBound(manager.data.via) ? manager.data.m365UserId : undefined;
    if (managerAccount === undefined) {
      this.note = `manager ${user.managerId} is not provisioned on this connection; the manager reference was not set`;
      return undefined;
    }
    this.note = undefined;
    return managerAccount === current ? undefined : managerAccount;
  }

  /** Reports bound here whose manager reference waited for this account to exist. */
  private async nudgeReports(): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.query<UserRecord>('users', {
        where: [{ field: 'managerId', op: 'eq', value: this.binding.userId }],
        limit: 500,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const report of page.items) {
        if ((await boundConnectionOf(this.deps.store, report.id)) === this.connection.id) await nudgeUser(this.deps, this.connection.id, report.id, 'manager_linked');
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  // ---- failures and the binding ---------------------------------------------------------------

  private async failure(failure: GatewayFailure): Promise<RunStop> {
    const response = respondToFailure(failure, { nowMs: this.now().getTime(), hop: this.nudge.hop, throttleBackoff: retryBackoff, reauthorizationBackoff: notActiveWaitMs });
    const error = { code: failure.code, message: failure.message };
    this.deps.metrics?.provisioningFailed(failure.code, this.connection.id);
    switch (response.kind) {
      case 'throttled': {
        const connectionWide = this.deps.throttle.throttled(this.connection.id, response.untilMs);
        return new RunStop({ kind: 'wait', untilMs: response.untilMs, detail: `throttled${connectionWide ? ' (the whole connection waits)' : ''}: ${failure.message}` });
      }
      case 'reauthorization':
        return new RunStop({ kind: 'wait', untilMs: response.untilMs, detail: failure.message });
      case 'retry':
        return this.counted(error, response.retryAfterMs);
      case 'permanent':
        if (response.connectionRefused) this.log.error('Graph refused the connection; the binding is in error until it changes', { code: failure.code });
        return this.permanent(error);
    }
  }

  /** A failure that retrying cannot fix: the binding shows it until the user or binding changes. */
  private async permanent(error: { code: string; message: string }): Promise<RunStop> {
    const stamped: BindingError = { ...error, at: this.now().toISOString() };
    this.log.warn('provisioning failed permanently; waiting for a change of the user or binding', { code: error.code, message: error.message });
    await this.recordFailure({ state: 'error', lastError: stamped, attempts: this.binding.attempts + 1, handled: true });
    return new RunStop({ kind: 'done', detail: `error:${error.code}` });
  }

  private async counted(error: { code: string; message: string }, retryAfterMs?: number): Promise<RunStop> {
    const stamped: BindingError = { ...error, at: this.now().toISOString() };
    const attempts = this.binding.attempts + 1;
    if (attempts >= this.deps.maxAttempts) {
      this.log.error('provisioning gave up after its last attempt', { attempts, code: error.code, message: error.message });
      await this.recordFailure({ state: 'error', lastError: stamped, attempts, handled: true });
      return new RunStop({ kind: 'gave_up', error: stamped });
    }
    // Graph's guidance: wait what Retry-After says when it says something, else back off exponentially.
    const delayMs = retryAfterMs ?? backoffDelayMs(attempts - 1, retryBackoff);
    this.log.warn('provisioning failed; retrying later', { attempts, code: error.code, message: error.message, retryInMs: delayMs });
    await this.recordFailure({ lastError: stamped, attempts, handled: false });
    return new RunStop({ kind: 'retry', untilMs: this.now().getTime() + delayMs, error: stamped });
  }

  private async recordFailure(change: { state?: BindingState; lastError: BindingError; attempts: number; handled: boolean }): Promise<void> {
    const stopped = this.binding;
    await this.mutate((current) => {
      if (current === undefined || current.incarnation !== stopped.incarnation) return undefined;
      return {
        ...this.workerFields(current, stopped),
        ...(change.state === undefined ? {} : { state: change.state }),
        lastError: change.lastError,
        attempts: change.attempts,
        handledChangeSeq: change.handled ? Math.max(current.handledChangeSeq, this.startChangeSeq) : current.handledChangeSeq,
        updatedAt: this.now().toISOString(),
      };
    });
  }

  /** Saves what this run learnt so far (the link, a pending write) before calling Graph again. */
  private async checkpoint(): Promise<void> {
    const mine = this.binding;
    const stored = await this.mutate((current) => {
      if (current === undefined || current.incarnation !== mine.incarnation) return undefined;
      return { ...this.workerFields(current, mine), updatedAt: this.now().toISOString() };
    });
    if (stored === undefined || stored.data.incarnation !== mine.incarnation) {
      // Unbound and removed (de-authorization) while running: stop before touching Graph again.
      throw new RunStop({ kind: 'done', detail: 'binding removed while running' });
    }
  }

  private async finish(state: BindingState): Promise<void> {
    const mine = this.binding;
    const at = this.now().toISOString();
    await this.mutate((current) => {
      if (current === undefined || current.incarnation !== mine.incarnation) return undefined;
      const fields = this.workerFields(current, mine);
      return {
        ...fields,
        // A held run wrote nothing: what the directory had stays the reference for the next one.
        ...(state === 'pending' ? {} : this.inStep),
        state,
        lastError: undefined,
        attempts: 0,
        lastSyncedAt: at,
        handledChangeSeq: Math.max(current.handledChangeSeq, this.startChangeSeq),
        note: this.note,
        // The grace period of a delete after deprovisioning runs from the first run that left the account disabled.
        disabledAt: state === 'deprovisioned' ? (mine.disabledAt ?? at) : undefined,
        updatedAt: at,
      };
    });
  }

  /**
   * The fields this run owns, merged into the stored binding, which the API may have changed
   * meanwhile (via, changeSeq). A password handed off after the run started stays pending.
   */
  private workerFields(current: UserBindingRecord, mine: UserBindingRecord): UserBindingRecord {
    return {
      ...current,
      m365UserId: mine.m365UserId,
      linkCount: mine.linkCount,
      writeSeq: mine.writeSeq,
      pendingWrite: mine.pendingWrite,
      managerM365Id: mine.managerM365Id,
      disabledAt: mine.disabledAt,
      deletedAt: mine.deletedAt,
      licenses: mine.licenses,
      passwordPending: current.changeSeq === this.startChangeSeq ? mine.passwordPending : current.passwordPending,
    };
  }
}


/**
 * The worker's use case for one user nudge. Drops nudges that are stale (handled already), whose
 * binding is gone, or whose connection is de-authorized; waits without counting a failure while the
 * connection is not active or Graph throttles it; otherwise runs the user's reconciliation.
 */
export async function provisionUser(deps: ProvisionUserDeps, nudge: UserNudge): Promise<ProvisionOutcome> {
  const connectionDoc = await deps.store.get<ConnectionRecord>('connections', nudge.connectionId, nudge.connectionId);
  const connection = connectionDoc?.data;
  if (connection === undefined || connection.status === 'deauthorized' || connection.status === 'pending_consent') {
    return { kind: 'done', detail: `connection ${connection?.status ?? 'missing'}` };
  }
  const bindingDoc = await readUserBinding(deps.store, nudge.connectionId, nudge.userId);
  if (bindingDoc === undefined) return { kind: 'done', detail: 'no binding' };
  const binding = bindingDoc.data;
  if (nudge.changeSeq <= binding.handledChangeSeq && binding.pendingWrite === undefined) return { kind: 'done', detail: 'handled already' };
  const nowMs = deps.clock.now().getTime();
  // A paused connection carries on with everything but deactivations, which its guard holds.
  if (connection.status !== 'active' && connection.status !== 'sync_paused') {
    return { kind: 'wait', untilMs: nowMs + backoffDelayMs(nudge.hop, notActiveWaitMs), detail: `connection is ${connection.status}` };
  }
  const notBefore = deps.throttle.waitUntil(connection.id, nowMs);
  // A little spread, so the waiting runs do not all call Graph in the same millisecond.
  if (notBefore !== undefined) return { kind: 'wait', untilMs: notBefore + Math.round(Math.random() * 250), detail: 'connection throttled' };
  const userDoc = await deps.store.get<UserRecord>('users', nudge.userId, nudge.userId);
  const user = userDoc === undefined ? undefined : toUser(userDoc.data);
  return new UserProvisioningRun(deps, connection, bindingDoc, user, nudge).run();
}
