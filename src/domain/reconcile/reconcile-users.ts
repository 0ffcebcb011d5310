import { readDirectoryUser } from '../provisioning/bind-user';
import { isBound, type BindingState, type UserBindingRecord } from '../provisioning/binding';
import { managedProperties, type EmptyValues, type ExportAttributeRule } from '../provisioning/attribute-mapping';
import type { Condition } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { bumpUnchanged, hasOutstandingWork, sendAll } from './binding-nudges';
import type { DeltaUser, UsersDeltaFailure, UsersDeltaPage, UsersDeltaStart } from './m365-users-delta';
import { mapConcurrently } from './map-concurrently';
import { readReconcileRecord, usersDeltaId, writeReconcileRecord, type UsersDeltaRecord } from './reconcile-records';
import type { ReconcileDeps, ReconcileRun } from './reconcile-deps';
import { driftedAttributes } from './user-drift';

/** Why a run read every account instead of the changes. */
export type FullRoundReason = 'first_run' | 'forced' | 'resync_required' | 'mapping_changed';

/** What the users part of a run found and did. */
export interface UsersReport {
  readonly round: 'incremental' | 'full';
  readonly fullRoundReason?: FullRoundReason;
  /** users/delta pages read (one Graph request each). */
  readonly pages: number;
  /** Accounts Graph reported changed or removed. */
  readonly reported: number;
  /** Of those, accounts bound on this connection. */
  readonly bound: number;
  readonly drifted: number;
  /** Bound accounts deleted in Microsoft 365. */
  readonly deleted: number;
  /** Full rounds only: bound accounts Graph no longer lists at all. */
  readonly missing: number;
  /** Nudges sent to the provisioning worker. */
  readonly nudged: number;
}

export type UsersFailure = { readonly code: 'lease_lost' } | Exclude<UsersDeltaFailure, { code: 'resync_required' }>;

/** Bindings whose account is compared: work finished, not failed (the safety net retries failures). */
const comparableStates: readonly BindingState[] = ['provisioned', 'deprovisioned'];
/** Accounts compared at once: Graph's pages are collected up to this many, so each bindings look-up covers several. */
const examineBatch = 1000;
const userReadConcurrency = 16;

/**
 * The users part of a run: reads users/delta from the connection's stored deltaLink (or a full
 * round when there is none, it expired, the mapping changed or one is forced), nudges every bound
 * account that drifted from the directory or was deleted, and only then stores the new deltaLink.
 * A run that dies midway leaves the old link, so the next run reads the same changes again;
 * nudging twice is harmless. Accounts no binding of the connection links to are never touched.
 */
export async function reconcileUsers(deps: ReconcileDeps, run: ReconcileRun): Promise<Result<UsersReport, UsersFailure>> {
  const connection = run.connection;
  const rules: ReadonlySet<ExportAttributeRule> = new Set(connection.settings.exportAttributes);
  const select = managedProperties(rules);
  // Blanking empty values changes what every account should hold, as a new rule does: a full round.
  const selectKey = connection.settings.emptyValues === 'clear' ? `${select.join(',')};emptyValues=clear` : select.join(',');
  const saved = await readReconcileRecord<UsersDeltaRecord>(deps.store, connection.id, usersDeltaId);
  let reason: FullRoundReason | undefined = run.forceFull ? 'forced' : saved === undefined ? 'first_run' : saved.select !== selectKey ? 'mapping_changed' : undefined;
  if (reason === undefined && saved !== undefined) {
    const incremental = await new UsersRound(deps, run, rules, selectKey, { kind: 'link', link: saved.deltaLink }).read();
    if (incremental.ok) return incremental;
    if (incremental.error.code !== 'resync_required') return err(incremental.error);
    deps.logger.warn('users delta token expired or refused; reading every account again', { connectionId: connection.id, runId: run.runId, error: incremental.error.message });
    reason = 'resync_required';
  }
  const full = await new UsersRound(deps, run, rules, selectKey, { kind: 'full', select }, reason).read();
  if (full.ok) return full;
  // A new round has no token Graph could refuse as expired: whatever it says, it will say again.
  return err(full.error.code === 'resync_required' ? { code: 'refused', message: full.error.message } : full.error);
}

class UsersRound {
  private readonly full: boolean;
  private readonly startedAt: string;
  /** Full rounds: users whose bound account Graph listed. */
  private readonly listed = new Set<string>();
  private pages = 0;
  private reported = 0;
  private bound = 0;
  private drifted = 0;
  private deleted = 0;
  private missing = 0;
  private nudged = 0;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly run: ReconcileRun,
    private readonly rules: ReadonlySet<ExportAttributeRule>,
    private readonly selectKey: string,
    private readonly start: UsersDeltaStart,
    private readonly reason?: FullRoundReason,
  ) {
    this.full = start.kind === 'full';
    this.startedAt = deps.clock.now().toISOString();
  }

  private get connectionId(): string {
    return this.run.connection.id;
  }

  private get emptyValues(): EmptyValues {
    return this.run.connection.settings.emptyValues;
  }

  async read(): Promise<Result<UsersReport, UsersFailure | { code: 'resync_required'; message: string }>> {
    let from = this.start;
    let batch: { changed: DeltaUser[]; removed: string[] } = { changed: [], removed: [] };
    for (;;) {
      const page = await this.deps.usersDelta.page(this.connectionId, from);
      if (!page.ok) return err(page.error);
      this.pages += 1;
      batch.changed.push(...page.value.changed);
      batch.removed.push(...page.value.removed);
      const next = page.value.next;
      if (next.kind === 'done' || batch.changed.length + batch.removed.length >= examineBatch) {
        await this.examine(batch);
        batch = { changed: [], removed: [] };
      }
      if (!(await this.run.keepLease())) return err({ code: 'lease_lost' });
      if (next.kind === 'next') {
        from = { kind: 'link', link: next.link };
        continue;
      }
      if (this.full && !(await this.nudgeMissing())) return err({ code: 'lease_lost' });
      // Every nudge of the round is sent: only now may the next run start after it.
      const record: UsersDeltaRecord = { deltaLink: next.deltaLink, select: this.selectKey, issuedAt: this.deps.clock.now().toISOString() };
      await writeReconcileRecord(this.deps.store, this.connectionId, usersDeltaId, record);
      return ok(this.report());
    }
  }

  private report(): UsersReport {
    return {
      round: this.full ? 'full' : 'incremental',
      ...(this.reason === undefined ? {} : { fullRoundReason: this.reason }),
      pages: this.pages,
      reported: this.reported,
      bound: this.bound,
      drifted: this.drifted,
      deleted: this.deleted,
      missing: this.missing,
      nudged: this.nudged,
    };
  }

  private async examine(page: Pick<UsersDeltaPage, 'changed' | 'removed'>): Promise<void> {
    const ids = [...page.changed.map((u) => u.id), ...page.removed];
    this.reported += ids.length;
    if (ids.length === 0) return;
    const reportedById = new Map<string, DeltaUser>(page.changed.map((u) => [u.id, u]));
    const removed = new Set(page.removed);
    const gone: UserBindingRecord[] = [];
    const compare: { binding: UserBindingRecord; account: DeltaUser }[] = [];
    for (const binding of await this.bindingsOfAccounts(ids)) {
      const accountId = binding.m365UserId;
      // An account deleted after its grace period is gone on purpose.
      if (accountId === undefined || !isBound(binding.via) || binding.deletedAt !== undefined) continue;
      this.bound += 1;
      const account = reportedById.get(accountId);
      if (account !== undefined) this.listed.add(binding.userId);
      if (!comparableStates.includes(binding.state) || hasOutstandingWork(binding)) continue;
      if (account !== undefined) compare.push({ binding, account });
      else if (removed.has(accountId)) gone.push(binding);
    }

    const users = await mapConcurrently(compare, userReadConcurrency, ({ binding }) => readDirectoryUser(this.deps.store, binding.userId));
    const drifted: UserBindingRecord[] = [];
    compare.forEach(({ binding, account }, i) => {
      const user = users[i];
      if (user === undefined) return;
      const attributes = driftedAttributes(user, this.rules, account, { kept: binding.keptNames, emptyValues: this.emptyValues, valued: binding.valuedProperties });
      if (attributes.length === 0) return;
      drifted.push(binding);
      this.deps.logger.info('Microsoft 365 account drifted from the directory', { connectionId: this.connectionId, userId: binding.userId, m365UserId: account.id, attributes, runId: this.run.runId });
    });
    for (const binding of gone) {
      this.deps.logger.info('bound Microsoft 365 account was deleted', { connectionId: this.connectionId, userId: binding.userId, m365UserId: binding.m365UserId, runId: this.run.runId });
    }
    this.drifted += drifted.length;
    this.deleted += gone.length;
    await this.nudge([...gone, ...drifted]);
  }

  /** After a full round: bound accounts Graph did not list are gone too (deleted and purged, say). */
  private async nudgeMissing(): Promise<boolean> {
    const where: Condition[] = [
      { field: 'kind', op: 'eq', value: 'user' },
      { field: 'state', op: 'in', values: [...comparableStates] },
      { field: 'm365UserId', op: 'exists', value: true },
      // Linked after the round began: the round may have read the tenant before the account existed.
      { field: 'updatedAt', op: 'lt', value: this.startedAt },
    ];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.query<UserBindingRecord>('bindings', { pk: this.connectionId, where, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      const missing = page.items.map((doc) => doc.data).filter((b) => isBound(b.via) && b.deletedAt === undefined && !this.listed.has(b.userId) && !hasOutstandingWork(b));
      for (const binding of missing) {
        this.deps.logger.info('bound Microsoft 365 account is no longer listed', { connectionId: this.connectionId, userId: binding.userId, m365UserId: binding.m365UserId, runId: this.run.runId });
      }
      this.missing += missing.length;
      await this.nudge(missing);
      if (!(await this.run.keepLease())) return false;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return true;
  }

  private async nudge(bindings: readonly UserBindingRecord[]): Promise<void> {
    if (bindings.length === 0) return;
    this.nudged += await sendAll(this.deps.sender, await bumpUnchanged(this.deps, bindings, 'reconcile'));
  }

  /** The user bindings of this connection linked to any of these accounts, a batch of ids per query. */
  private async bindingsOfAccounts(accountIds: readonly string[]): Promise<UserBindingRecord[]> {
    const found: UserBindingRecord[] = [];
    for (let i = 0; i < accountIds.length; i += examineBatch) {
      const where: Condition[] = [
        { field: 'kind', op: 'eq', value: 'user' },
        { field: 'm365UserId', op: 'in', values: accountIds.slice(i, i + examineBatch) },
      ];
      let cursor: string | undefined;
      do {
        const page = await this.deps.store.query<UserBindingRecord>('bindings', { pk: this.connectionId, where, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
        for (const doc of page.items) found.push(doc.data);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    }
    return found;
  }
}
