import { backoffDelayMs } from '../backoff';
import type { ConnectionRecord } from '../connections/connection';
import { addGroupMember } from '../directory/group-memberships';
import type { DeliveredMessage } from '../ports/work-queue';
import { linkExistingGroup } from '../provisioning/bind-group';
import { matchesPerson } from './import-filter';
import { settleGroup, type GroupOutcome } from './import-group';
import { countPage, finishJob, jobDocumentId, markRunning, pageKey, resultId, streamDone, type ImportJobRecord, type ImportResultRecord, type PageCounts } from './import-jobs';
import { importMessageSchema, toOutgoing, type ImportMessage } from './import-messages';
import { countResults, ensurePlan, importPersons, recordResult } from './import-page';
import { ImportRetryError, type ImportUserDeps } from './import-user';
import type { DirectoryReadFailure, M365Directories } from './m365-directory';
import { parseMessage, type MessageSettlement } from '../queue-messages';

export interface ImportWorkerDeps extends ImportUserDeps {
  readonly directories: M365Directories;
  /** Failed reads of one page (and deliveries of one message) after which its stream ends in error. */
  readonly maxAttempts: number;
}


/** What one page came to: counted (possibly ending its stream in error), or to be tried again later. */
type PageRun =
  | { readonly kind: 'counted'; readonly counts: PageCounts; readonly last: boolean; readonly error?: string }
  | { readonly kind: 'wait'; readonly untilMs: number; readonly counted: boolean; readonly detail: string };

const notActiveWaitMs = 30_000;
const retryBackoff = { firstMs: 2_000, maxMs: 120_000 };

function backoffMs(attempt: number): number {
  return backoffDelayMs(attempt - 1, retryBackoff, false);
}

class PageWorker {
  constructor(
    private readonly deps: ImportWorkerDeps,
    private readonly job: ImportJobRecord,
    private readonly connection: ConnectionRecord,
    private readonly message: ImportMessage,
  ) {}

  private get key(): string {
    return pageKey(this.message.stream, this.message.page);
  }

  private get context() {
    return { jobId: this.job.id, connection: this.connection, refresh: this.job.refresh === true, stream: this.message.stream, page: this.message.page };
  }

  private now(): number {
    return this.deps.clock.now().getTime();
  }

  run(): Promise<PageRun> {
    switch (this.message.kind) {
      case 'ids':
        return this.idsPage(this.message.ids);
      case 'filter':
        return this.filterPage(this.message.link);
      case 'group':
        return this.groupPage(this.message);
    }
  }

  /** A read that failed: waited for (throttling, re-consent), retried with a count, or the end of the stream. */
  private failedRead(failure: DirectoryReadFailure, what: string): PageRun {
    const nowMs = this.now();
    switch (failure.kind) {
      case 'transient': {
        if (failure.throttled) return { kind: 'wait', untilMs: nowMs + (failure.retryAfterMs ?? backoffMs(1)), counted: false, detail: `throttled reading ${what}` };
        const attempts = this.message.attempts + 1;
        if (attempts >= this.deps.maxAttempts) return { kind: 'counted', counts: { succeeded: 0, failed: 0, skipped: 0 }, last: true, error: `could not read ${what} after ${attempts} attempts: ${failure.message}` };
        return { kind: 'wait', untilMs: nowMs + Math.max(failure.retryAfterMs ?? 0, backoffMs(attempts)), counted: true, detail: `reading ${what} failed: ${failure.message}` };
      }
      case 'stop':
        if (failure.reauthorizationRequired) return { kind: 'wait', untilMs: nowMs + notActiveWaitMs, counted: false, detail: 'the connection needs re-consent' };
        return { kind: 'counted', counts: { succeeded: 0, failed: 0, skipped: 0 }, last: true, error: `Microsoft 365 refused reading ${what}: ${failure.message}` };
      case 'invalid_link':
      case 'not_found':
      case 'exists':
      case 'permanent':
        return { kind: 'counted', counts: { succeeded: 0, failed: 0, skipped: 0 }, last: true, error: `could not read ${what}: ${failure.message}` };
    }
  }

  /** Sends the page after this one first, so the pages of a stream overlap and a crash here loses nothing. */
  private async sendNext(link: string | undefined, extra: { groupId?: string } = {}): Promise<void> {
    if (link === undefined) return;
    const next: ImportMessage = { ...this.message, ...extra, page: this.message.page + 1, link, hop: 0, attempts: 0 } as ImportMessage;
    await this.deps.sender.send('imports', [toOutgoing(next)]);
  }

  private async idsPage(ids: readonly string[]): Promise<PageRun> {
    const read = await this.deps.directories.forConnection(this.connection.id).usersByIds(ids);
    if (!read.ok) return this.failedRead(read.error, `${ids.length} users by id`);
    const found = new Map(read.value.map((person) => [person.id.toLowerCase(), person]));
    const results = await importPersons(this.deps, this.context, [...found.values()]);
    const at = this.deps.clock.now().toISOString();
    for (const id of ids) {
      if (found.has(id)) continue;
      results.push(await recordResult(this.deps.store, this.job.id, { record: 'result', type: 'user', m365Id: id, name: '', outcome: 'failed', reason: 'no user with this object id in the tenant', page: this.key, at }));
    }
    return { kind: 'counted', counts: countResults(results, this.key), last: true };
  }

  private async filterPage(link: string | undefined): Promise<PageRun> {
    const filter = this.job.filter ?? {};
    const read = await this.deps.directories.forConnection(this.connection.id).listUsers({ ...(filter.enabled === undefined ? {} : { enabled: filter.enabled }), ...(link === undefined ? {} : { page: link }) });
    if (!read.ok) return this.failedRead(read.error, `page ${this.message.page} of the tenant's users`);
    const holders = await this.deps.directories.forConnection(this.connection.id).privilegedRoleHolders();
    if (!holders.ok) return this.failedRead(holders.error, "the tenant's privileged role holders");
    await this.sendNext(read.value.nextPage);
    const persons = read.value.items.filter((person) => matchesPerson(person, filter));
    const results = await importPersons(this.deps, { ...this.context, roleHolders: holders.value }, persons, filter);
    return { kind: 'counted', counts: countResults(results, this.key), last: read.value.nextPage === undefined };
  }

  private async groupPage(message: Extract<ImportMessage, { kind: 'group' }>): Promise<PageRun> {
    const m365GroupId = this.job.m365GroupIds?.[message.stream];
    if (m365GroupId === undefined) throw new Error(`import job ${this.job.id} has no group for stream ${message.stream}`);
    const directory = this.deps.directories.forConnection(this.connection.id);
    const results: ImportResultRecord[] = [];
    let groupId = message.groupId;
    if (groupId === undefined) {
      const settled = await this.groupResult(m365GroupId);
      if ('kind' in settled) return settled;
      results.push(settled);
      if (settled.outcome === 'failed' || settled.directoryId === undefined) return { kind: 'counted', counts: countResults(results, this.key), last: true };
      groupId = settled.directoryId;
    }
    const read = await directory.listGroupMembers(m365GroupId, message.link);
    if (!read.ok) {
      const failed = this.failedRead(read.error, `the members of group ${m365GroupId}`);
      // The group's own result, recorded above, still counts when the stream ends here.
      return failed.kind === 'counted' ? { ...failed, counts: countResults(results, this.key) } : failed;
    }
    const holders = await directory.privilegedRoleHolders();
    if (!holders.ok) return this.failedRead(holders.error, "the tenant's privileged role holders");
    await this.sendNext(read.value.nextPage, { groupId });
    const members = await importPersons(this.deps, { ...this.context, roleHolders: holders.value }, read.value.items);
    results.push(...members);
    for (const member of members) {
      if (member.directoryId === undefined) continue;
      const added = await addGroupMember(this.deps, groupId, member.directoryId);
      if (!added.ok) throw new ImportRetryError(`could not add ${member.directoryId} to group ${groupId}: ${added.error.code}`);
    }
    const last = read.value.nextPage === undefined;
    if (last) {
      const linked = await linkExistingGroup(this.deps, this.connection.id, groupId, m365GroupId);
      if (!linked.ok) {
        if (linked.error.code === 'connection_not_active') throw new ImportRetryError(linked.error.message);
        return { kind: 'counted', counts: countResults(results, this.key), last, error: `group ${m365GroupId} could not be bound: ${linked.error.message}` };
      }
    }
    return { kind: 'counted', counts: countResults(results, this.key), last };
  }

  /** The group's result: recorded by an earlier attempt of this page, or settled now. */
  private async groupResult(m365GroupId: string): Promise<ImportResultRecord | Extract<PageRun, { kind: 'wait' | 'counted' }>> {
    const earlier = await this.deps.store.get<ImportResultRecord>('jobs', this.job.id, resultId('group', m365GroupId));
    if (earlier !== undefined) return earlier.data;
    const read = await this.deps.directories.forConnection(this.connection.id).getGroup(m365GroupId);
    if (!read.ok) return this.failedRead(read.error, `group ${m365GroupId}`);
    const at = this.deps.clock.now().toISOString();
    let outcome: GroupOutcome;
    let name = '';
    if (read.value === undefined) {
      outcome = { outcome: 'failed', reason: 'no group with this object id in the tenant' };
    } else {
      name = read.value.displayName;
      const plan = await ensurePlan(this.deps, this.job.id, this.key, [], true);
      outcome = await settleGroup(this.deps, this.connection, read.value, plan.group as string);
    }
    return recordResult(this.deps.store, this.job.id, {
      record: 'result',
      type: 'group',
      m365Id: m365GroupId,
      name,
      outcome: outcome.outcome,
      ...(outcome.outcome === 'failed' ? {} : { directoryId: outcome.groupId }),
      ...(outcome.outcome === 'imported' && outcome.linked === true ? { linked: true } : {}),
      ...(outcome.outcome === 'imported' ? {} : { reason: outcome.reason }),
      page: this.key,
      at,
    });
  }
}

async function reschedule(deps: ImportWorkerDeps, message: ImportMessage, run: Extract<PageRun, { kind: 'wait' }>): Promise<void> {
  const next = { ...message, hop: message.hop + 1, attempts: message.attempts + (run.counted ? 1 : 0) };
  await deps.sender.send('imports', [toOutgoing(next, new Date(run.untilMs))]);
}

/** The counts of what a page recorded before it failed, so a stream that ends in error still adds up. */
async function recordedCounts(deps: ImportWorkerDeps, jobId: string, key: string): Promise<PageCounts> {
  const count = (outcome: string) =>
    deps.store.count('jobs', {
      pk: jobId,
      where: [
        { field: 'record', op: 'eq', value: 'result' },
        { field: 'page', op: 'eq', value: key },
        { field: 'outcome', op: 'eq', value: outcome },
      ],
    });
  const [succeeded, failed, skipped] = await Promise.all([count('imported'), count('failed'), count('skipped')]);
  return { succeeded, failed, skipped };
}

/**
 * Groups go one at a time (a member of two groups is handled once): once a group's stream is
 * complete the next group starts. Sent again whenever a page of a complete stream is seen, so a
 * crash between counting and sending cannot stall the job; the message id makes it once.
 */
async function startNextGroup(deps: ImportWorkerDeps, job: ImportJobRecord, stream: number): Promise<void> {
  if (job.source !== 'groups' || stream + 1 >= job.streams || !streamDone(job, stream)) return;
  await deps.sender.send('imports', [toOutgoing({ kind: 'group', jobId: job.id, stream: stream + 1, page: 0, hop: 0, attempts: 0 })]);
}

async function finishPage(deps: ImportWorkerDeps, job: ImportJobRecord, message: ImportMessage, run: Extract<PageRun, { kind: 'counted' }>): Promise<void> {
  const counted = await countPage(deps, job.id, { stream: message.stream, page: message.page, counts: run.counts, last: run.last, ...(run.error === undefined ? {} : { error: run.error }) });
  if (counted !== undefined) await startNextGroup(deps, counted, message.stream);
}

/**
 * Handles one message of the `imports` queue: one page of one job. Safe to run again at any point
 * (a redelivery, a restart mid-page): a page counted already does nothing, users with a result are
 * not imported again, and planned ids make a retried create find its own earlier work. Waiting
 * never sleeps: the page is sent again for later and this message completes.
 */
export async function handleImportMessage(deps: ImportWorkerDeps, delivered: DeliveredMessage): Promise<MessageSettlement> {
  const parsed = parseMessage(importMessageSchema, delivered.body, 'an import');
  if (!parsed.ok) return parsed.error;
  const message = parsed.value;
  const key = pageKey(message.stream, message.page);
  const job = (await deps.store.get<ImportJobRecord>('jobs', message.jobId, jobDocumentId))?.data;
  if (job === undefined) return { kind: 'complete', detail: 'no such job' };
  if (job.status === 'completed' || job.status === 'failed') return { kind: 'complete', detail: `job is ${job.status}` };
  if (job.pagesDone.includes(key)) {
    await startNextGroup(deps, job, message.stream);
    return { kind: 'complete', detail: `page ${key} was counted before` };
  }
  const connection = (await deps.store.get<ConnectionRecord>('connections', job.connectionId, job.connectionId))?.data;
  if (connection === undefined || connection.status === 'deauthorized' || connection.status === 'pending_consent') {
    await finishJob(deps, job.id, `connection ${job.connectionId} is ${connection?.status ?? 'deleted'}; the import stopped`);
    return { kind: 'complete', detail: 'connection gone' };
  }
  if (connection.status !== 'active') {
    await reschedule(deps, message, { kind: 'wait', untilMs: deps.clock.now().getTime() + notActiveWaitMs, counted: false, detail: '' });
    return { kind: 'complete', detail: `waiting: connection is ${connection.status}` };
  }
  await markRunning(deps, job.id);
  const log = deps.logger.child({ jobId: job.id, connectionId: job.connectionId, page: key });
  let run: PageRun;
  try {
    run = await new PageWorker(deps, job, connection, message).run();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (delivered.deliveryCount < deps.maxAttempts) {
      log.warn('import page failed; it will be retried', { deliveryCount: delivered.deliveryCount, error: reason });
      throw error;
    }
    // Out of deliveries: the stream ends here, in error, with what the page recorded.
    log.error('import page failed for the last time; its stream ends in error', { error: reason });
    await finishPage(deps, job, message, { kind: 'counted', counts: await recordedCounts(deps, job.id, key), last: true, error: `page ${key} failed: ${reason}` });
    return { kind: 'complete', detail: 'failed for good' };
  }
  if (run.kind === 'wait') {
    await reschedule(deps, message, run);
    log.info('import page waits', { detail: run.detail, untilMs: run.untilMs });
    return { kind: 'complete', detail: `waiting: ${run.detail}` };
  }
  await finishPage(deps, job, message, run);
  log.info('import page done', { ...run.counts, last: run.last, ...(run.error === undefined ? {} : { error: run.error }) });
  return { kind: 'complete', detail: `page ${key}: ${run.counts.succeeded} imported, ${run.counts.skipped} skipped, ${run.counts.failed} failed` };
}
