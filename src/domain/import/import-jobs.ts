import { z } from 'zod';
import { newDirectoryId } from '../directory/directory-ids';
import type { Clock } from '../ports/clock';
import { InvalidCursorError, type Condition, type DocumentStore, type StoredDocument } from '../ports/document-store';
import type { MessageSender } from '../ports/work-queue';
import { err, ok, type Result } from '../result';
import type { ImportFailure } from './import-failures';
import { importFilterSchema, type ImportFilter } from './import-filter';
import { toOutgoing, type ImportMessage } from './import-messages';
import { idsPerLookup } from './m365-directory';
import { readableConnection } from './preview-m365-users';

/*
 * An import job lives in `jobs` under its own partition (pk = job id): the job document (id `job`),
 * one small result document per user or group (`result:...`), and one plan per page (`plan:...`).
 * A 100,000-user job is 100,000 small documents, never one growing towards Cosmos DB's 2 MB limit.
 */

export const importJobStatuses = ['queued', 'running', 'completed', 'failed'] as const;
export type ImportJobStatus = (typeof importJobStatuses)[number];
export const importOutcomes = ['imported', 'skipped', 'failed'] as const;
export type ImportOutcome = (typeof importOutcomes)[number];

const objectIdSchema = z.guid('must be a Microsoft 365 object id (a GUID)');

/** Ids in one request: with their quotes, 5,000 ids fit well within the API's body limit. */
export const maxIdsPerJob = 5_000;
export const maxGroupsPerJob = 100;

const refreshSchema = z.boolean().optional().meta({ description: 'Users already imported have their attributes read again from Microsoft 365 into the directory; nothing is written to Microsoft 365' });

/** POST /connections/{id}/imports: exactly one of the three, optionally with `refresh`. */
export const startImportSchema = z.union([
  z.strictObject({ m365UserIds: z.array(objectIdSchema).min(1).max(maxIdsPerJob).meta({ description: 'Object ids of the Microsoft 365 users to import' }), refresh: refreshSchema }),
  z.strictObject({ filter: importFilterSchema.meta({ description: "Every user the preview lists with these filters (at the time each page is read)" }), refresh: refreshSchema }),
  z.strictObject({ groups: z.array(objectIdSchema).min(1).max(maxGroupsPerJob).meta({ description: 'Object ids of Microsoft 365 security groups to import, with their members' }), refresh: refreshSchema }),
]);
export type StartImportRequest = z.output<typeof startImportSchema>;

export const jobDocumentId = 'job';

/** The job document. Counters move once per page, under the page's key, so a redelivered page never counts twice. */
export interface ImportJobRecord {
  readonly record: 'job';
  readonly id: string;
  readonly connectionId: string;
  readonly source: 'users' | 'filter' | 'groups';
  readonly filter?: ImportFilter;
  /** The groups to import, one stream each, in this order. */
  readonly m365GroupIds?: readonly string[];
  /** How many ids (users) or groups were asked for. */
  readonly requested?: number;
  /** Users already imported have their attributes read again (`refresh: true`). */
  readonly refresh?: boolean;
  readonly status: ImportJobStatus;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  /** Independent chains of pages: one per chunk of ids, one for a filter, one per group. */
  readonly streams: number;
  /** `stream:page` of every page counted. */
  readonly pagesDone: readonly string[];
  /** The last page of each stream, once known. */
  readonly lastPages: Readonly<Record<string, number>>;
  /** Why the job failed: a stream that could not be read to its end. */
  readonly error?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly updatedAt: string;
}

/** The outcome of one user or group (id `result:<type>:<object id>`), written once by the page that handled it. */
export interface ImportResultRecord {
  readonly record: 'result';
  readonly type: 'user' | 'group';
  readonly m365Id: string;
  /** The UPN of a user, the display name of a group. */
  readonly name: string;
  readonly outcome: ImportOutcome;
  /** The directory user or group. */
  readonly directoryId?: string;
  /** Bound to a directory object that already existed (conflict policy `link`). */
  readonly linked?: boolean;
  readonly reason?: string;
  /** A user's manager in Microsoft 365 (object id), so a manager imported by a later page can be linked. */
  readonly m365ManagerId?: string;
  /** The page (`stream:page`) that recorded it: only that page counts it. */
  readonly page: string;
  readonly at: string;
}

export function resultId(type: 'user' | 'group', m365Id: string): string {
  return `result:${type}:${m365Id}`;
}

export function pageKey(stream: number, page: number): string {
  return `${stream}:${page}`;
}

/** What the API shows of a result. */
export type ImportResultView =
  | { readonly type: 'user'; readonly m365UserId: string; readonly upn: string; readonly outcome: ImportOutcome; readonly userId?: string; readonly linked?: true; readonly reason?: string }
  | { readonly type: 'group'; readonly m365GroupId: string; readonly displayName: string; readonly outcome: ImportOutcome; readonly groupId?: string; readonly linked?: true; readonly reason?: string };

export interface ImportJobView {
  readonly id: string;
  readonly connectionId: string;
  readonly source: ImportJobRecord['source'];
  readonly filter?: ImportFilter;
  readonly status: ImportJobStatus;
  /** Users (and groups) to handle: the ids asked for, else those handled so far (a filter or a group grows as it is read). */
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
  readonly error?: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly results: ImportResultView[];
  /** More results: pass as `cursor`. */
  readonly nextCursor?: string;
}

export function toResultView(record: ImportResultRecord): ImportResultView {
  const shared = {
    outcome: record.outcome,
    ...(record.linked === true ? { linked: true as const } : {}),
    ...(record.reason === undefined ? {} : { reason: record.reason }),
  };
  return record.type === 'user'
    ? { type: 'user', m365UserId: record.m365Id, upn: record.name, ...shared, ...(record.directoryId === undefined ? {} : { userId: record.directoryId }) }
    : { type: 'group', m365GroupId: record.m365Id, displayName: record.name, ...shared, ...(record.directoryId === undefined ? {} : { groupId: record.directoryId }) };
}

export interface JobDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly sender: MessageSender;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * POST /connections/{id}/imports: records the job and queues its first pages; the work itself runs
 * on the `imports` queue. Ids are deduplicated and split into chunks Graph can look up in one round
 * trip; groups are imported one after the other (a member in two groups is handled once).
 */
export async function startImport(deps: JobDeps, connectionId: string, request: StartImportRequest): Promise<Result<ImportJobView, ImportFailure>> {
  const connection = await readableConnection(deps.store, connectionId);
  if (!connection.ok) return connection;
  if (connection.value.status !== 'active') {
    return err({ code: 'connection_not_active', message: `connection ${connectionId} is ${connection.value.status}; users can be imported on an active connection only` });
  }
  const id = newDirectoryId(deps.clock);
  const now = deps.clock.now().toISOString();
  let messages: ImportMessage[];
  let job: ImportJobRecord;
  const base = { record: 'job' as const, id, connectionId, ...(request.refresh === true ? { refresh: true } : {}), status: 'queued' as const, succeeded: 0, failed: 0, skipped: 0, pagesDone: [], lastPages: {}, createdAt: now, updatedAt: now };
  if ('m365UserIds' in request) {
    const ids = [...new Set(request.m365UserIds.map((value) => value.toLowerCase()))];
    messages = chunks(ids, idsPerLookup).map((chunk, stream) => ({ kind: 'ids', jobId: id, stream, page: 0, ids: chunk, hop: 0, attempts: 0 }));
    job = { ...base, source: 'users', requested: ids.length, streams: messages.length };
  } else if ('filter' in request) {
    messages = [{ kind: 'filter', jobId: id, stream: 0, page: 0, hop: 0, attempts: 0 }];
    job = { ...base, source: 'filter', filter: request.filter, streams: 1 };
  } else {
    const groups = [...new Set(request.groups.map((value) => value.toLowerCase()))];
    messages = [{ kind: 'group', jobId: id, stream: 0, page: 0, hop: 0, attempts: 0 }];
    job = { ...base, source: 'groups', m365GroupIds: groups, requested: groups.length, streams: groups.length };
  }
  await deps.store.create<ImportJobRecord>('jobs', id, jobDocumentId, job);
  try {
    await deps.sender.send('imports', messages.map((message) => toOutgoing(message)));
  } catch (error) {
    await finishJob(deps, id, 'the job could not be queued');
    throw error;
  }
  return ok(toJobView(job, []));
}

function toJobView(job: ImportJobRecord, results: ImportResultView[], nextCursor?: string): ImportJobView {
  const handled = job.succeeded + job.failed + job.skipped;
  return {
    id: job.id,
    connectionId: job.connectionId,
    source: job.source,
    ...(job.filter === undefined ? {} : { filter: job.filter }),
    status: job.status,
    total: job.source === 'users' ? Math.max(job.requested ?? 0, handled) : handled,
    succeeded: job.succeeded,
    failed: job.failed,
    skipped: job.skipped,
    ...(job.error === undefined ? {} : { error: job.error }),
    createdAt: job.createdAt,
    ...(job.startedAt === undefined ? {} : { startedAt: job.startedAt }),
    ...(job.finishedAt === undefined ? {} : { finishedAt: job.finishedAt }),
    results,
    ...(nextCursor === undefined ? {} : { nextCursor }),
  };
}

export interface ResultsQuery {
  readonly outcome?: ImportOutcome;
  readonly limit: number;
  readonly cursor?: string;
}

/** GET /imports/{jobId}: the status, the counts and one page of results (by object id). */
export async function getImportJob(deps: Pick<JobDeps, 'store'>, jobId: string, query: ResultsQuery): Promise<Result<ImportJobView, ImportFailure>> {
  const job = await deps.store.get<ImportJobRecord>('jobs', jobId, jobDocumentId);
  if (job === undefined) return err({ code: 'job_not_found', message: `import job ${jobId} not found` });
  const where: Condition[] = [{ field: 'record', op: 'eq', value: 'result' }];
  if (query.outcome !== undefined) where.push({ field: 'outcome', op: 'eq', value: query.outcome });
  try {
    const page = await deps.store.query<ImportResultRecord>('jobs', { pk: jobId, where, limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
    return ok(toJobView(job.data, page.items.map((doc) => toResultView(doc.data)), page.nextCursor));
  } catch (error) {
    if (error instanceof InvalidCursorError) return err({ code: 'invalid_cursor', message: 'query.cursor: not a cursor of this list' });
    throw error;
  }
}

// A job document is written by every page of the job; a few dozen may finish at once.
const maxJobWriteAttempts = 50;

/** Read-modify-write of the job under its ETag; `change` returns undefined to leave it. */
export async function mutateJob(store: DocumentStore, jobId: string, change: (current: ImportJobRecord) => ImportJobRecord | undefined): Promise<StoredDocument<ImportJobRecord> | undefined> {
  for (let attempt = 0; attempt < maxJobWriteAttempts; attempt += 1) {
    const current = await store.get<ImportJobRecord>('jobs', jobId, jobDocumentId);
    if (current === undefined) return undefined;
    const next = change(current.data);
    if (next === undefined) return current;
    const written = await store.replace<ImportJobRecord>('jobs', jobId, jobDocumentId, next, { ifMatch: current.etag });
    if (written.ok) return written.value;
    if (written.error === 'not_found') return undefined;
  }
  throw new Error(`import job ${jobId} kept changing while being written`);
}

function isFinished(status: ImportJobStatus): boolean {
  return status === 'completed' || status === 'failed';
}

/** Every page of the stream is counted, its last one included. */
export function streamDone(job: ImportJobRecord, stream: number): boolean {
  const last = job.lastPages[String(stream)];
  return last !== undefined && job.pagesDone.filter((key) => key.startsWith(`${stream}:`)).length === last + 1;
}

/** Marks the job running when its first page starts. */
export async function markRunning(deps: Pick<JobDeps, 'store' | 'clock'>, jobId: string): Promise<void> {
  const now = deps.clock.now().toISOString();
  await mutateJob(deps.store, jobId, (job) => (job.status === 'queued' ? { ...job, status: 'running', startedAt: now, updatedAt: now } : undefined));
}

/** Ends the job at once as failed (its connection is gone, or its work could not be queued). */
export async function finishJob(deps: Pick<JobDeps, 'store' | 'clock'>, jobId: string, error: string): Promise<void> {
  const now = deps.clock.now().toISOString();
  await mutateJob(deps.store, jobId, (job) => (isFinished(job.status) ? undefined : { ...job, status: 'failed', error: job.error ?? error, finishedAt: now, updatedAt: now }));
}

export interface PageCounts {
  readonly succeeded: number;
  readonly failed: number;
  readonly skipped: number;
}

export interface PageDone {
  readonly stream: number;
  readonly page: number;
  readonly counts: PageCounts;
  /** No page follows this one in its stream. */
  readonly last: boolean;
  /** The stream ends here because it could not be read on. */
  readonly error?: string;
}

/**
 * Counts a page once (a redelivered page finds its key and changes nothing) and finishes the job
 * when every stream has counted its last page. Returns the job as it stands afterwards.
 */
export async function countPage(deps: Pick<JobDeps, 'store' | 'clock'>, jobId: string, done: PageDone): Promise<ImportJobRecord | undefined> {
  const key = pageKey(done.stream, done.page);
  const now = deps.clock.now().toISOString();
  const stored = await mutateJob(deps.store, jobId, (job) => {
    if (job.pagesDone.includes(key)) return undefined;
    const counted: ImportJobRecord = {
      ...job,
      succeeded: job.succeeded + done.counts.succeeded,
      failed: job.failed + done.counts.failed,
      skipped: job.skipped + done.counts.skipped,
      pagesDone: [...job.pagesDone, key],
      lastPages: done.last ? { ...job.lastPages, [String(done.stream)]: done.page } : job.lastPages,
      ...(done.error !== undefined && job.error === undefined ? { error: done.error } : {}),
      updatedAt: now,
    };
    if (isFinished(counted.status)) return counted;
    const allDone = Array.from({ length: counted.streams }, (_, stream) => stream).every((stream) => streamDone(counted, stream));
    return allDone ? { ...counted, status: counted.error === undefined ? 'completed' : 'failed', finishedAt: now } : counted;
  });
  return stored?.data;
}
