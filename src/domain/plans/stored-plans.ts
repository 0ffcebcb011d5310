import { randomUUID } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import type { PlannedAccount, PlanRequest, PlanView } from './plan-changes';

/** How long a plan can be read and confirmed; after that it is gone and the change must be planned again. */
export const planLifetimeSeconds = 3600;
/** Accounts per stored page of a plan: a plan of any size stays far below Cosmos DB's 2 MB item limit. */
export const planPageSize = 250;

/** A plan's summary (container `plans`, pk = connection id, id = plan id). */
interface PlanRecord {
  readonly kind: 'plan';
  readonly id: string;
  readonly request: PlanRequest;
  readonly summary: Omit<PlanView, 'accounts'>;
  readonly expiresAt: string;
  readonly pages: number;
}

/**
 * A plan still being made in the background (same id as the plan it becomes), or whose making
 * failed; replaced by the `PlanRecord` once made.
 */
interface PlanJobRecord {
  readonly kind: 'plan_job';
  readonly id: string;
  readonly connectionId: string;
  readonly request: PlanRequest;
  readonly status: 'running' | 'failed';
  /** Graph list pages of users read so far. */
  readonly userPages: number;
  readonly error?: { readonly code: string; readonly message: string };
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** A plan being made in the background, as the API shows it. */
export type PlanJobView = Omit<PlanJobRecord, 'kind'>;

/** One page of a plan's accounts (id `<planId>:<page>`). */
interface PlanPageRecord {
  readonly kind: 'plan_page';
  readonly planId: string;
  readonly page: number;
  readonly accounts: readonly PlannedAccount[];
}

/** A stored plan as the API shows it: the plan, its id, what was planned and until when it can be confirmed. */
export type StoredPlanView = Omit<PlanView, 'accounts'> & {
  readonly id: string;
  readonly request: PlanRequest;
  readonly expiresAt: string;
};

export interface StoredPlanPage extends StoredPlanView {
  readonly accounts: readonly PlannedAccount[];
  readonly nextCursor?: string;
}

export interface PlanStoreDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
}

export interface PlanNotFound {
  readonly code: 'plan_not_found';
  readonly message: string;
}
export type StoredPlanFailure = PlanNotFound | { readonly code: 'invalid_cursor'; readonly message: string };

function pageId(planId: string, page: number): string {
  return `${planId}:${page}`;
}

function viewOf(record: PlanRecord): StoredPlanView {
  return { id: record.id, ...record.summary, request: record.request, expiresAt: record.expiresAt };
}

/**
 * Stores a plan under a new id for `planLifetimeSeconds`: its pages of accounts first, its summary
 * last, so a plan that can be read is whole.
 */
export async function storePlan(deps: PlanStoreDeps, request: PlanRequest, plan: PlanView, id: string = randomUUID()): Promise<StoredPlanView> {
  const { accounts, ...summary } = plan;
  const pages = Math.ceil(accounts.length / planPageSize);
  const ttlSeconds = planLifetimeSeconds;
  for (let page = 0; page < pages; page += 1) {
    const record: PlanPageRecord = { kind: 'plan_page', planId: id, page, accounts: accounts.slice(page * planPageSize, (page + 1) * planPageSize) };
    await deps.store.create('plans', plan.connectionId, pageId(id, page), record, { ttlSeconds });
  }
  const record: PlanRecord = { kind: 'plan', id, request, summary, expiresAt: new Date(deps.clock.now().getTime() + ttlSeconds * 1000).toISOString(), pages };
  // Over a background job's record of the same id, if there is one.
  await deps.store.upsert('plans', plan.connectionId, id, record, { ttlSeconds });
  return viewOf(record);
}

function jobView({ kind: _kind, ...view }: PlanJobRecord): PlanJobView {
  return view;
}

/** Records a plan to be made in the background (the `plans` queue's worker makes it). */
export async function startPlanJob(deps: PlanStoreDeps, connectionId: string, request: PlanRequest): Promise<PlanJobView> {
  const now = deps.clock.now();
  const record: PlanJobRecord = { kind: 'plan_job', id: randomUUID(), connectionId, request, status: 'running', userPages: 0, createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + planLifetimeSeconds * 1000).toISOString() };
  await deps.store.create('plans', connectionId, record.id, record, { ttlSeconds: planLifetimeSeconds });
  return jobView(record);
}

/** The background job of a plan, while it is running or after it failed; undefined once made (or unknown). */
export async function readPlanJob(deps: PlanStoreDeps, connectionId: string, planId: string): Promise<PlanJobView | undefined> {
  const doc = await deps.store.get<PlanJobRecord | PlanRecord>('plans', connectionId, planId);
  return doc?.data.kind === 'plan_job' ? jobView(doc.data) : undefined;
}

/** Updates a running job's progress, or marks it failed; nothing once the plan is made. */
export async function updatePlanJob(deps: PlanStoreDeps, connectionId: string, planId: string, change: { userPages?: number; error?: { code: string; message: string } }): Promise<void> {
  const doc = await deps.store.get<PlanJobRecord | PlanRecord>('plans', connectionId, planId);
  if (doc?.data.kind !== 'plan_job' || doc.data.status !== 'running') return;
  const next: PlanJobRecord = { ...doc.data, ...(change.userPages === undefined ? {} : { userPages: change.userPages }), ...(change.error === undefined ? {} : { status: 'failed' as const, error: change.error }) };
  const ttlSeconds = Math.max(1, Math.ceil((Date.parse(doc.data.expiresAt) - deps.clock.now().getTime()) / 1000));
  // A concurrent write (the plan made meanwhile) wins.
  await deps.store.replace('plans', connectionId, planId, next, { ifMatch: doc.etag, ttlSeconds });
}

async function readRecord(deps: PlanStoreDeps, connectionId: string, planId: string): Promise<Result<PlanRecord, PlanNotFound>> {
  const doc = await deps.store.get<PlanRecord | PlanJobRecord>('plans', connectionId, planId);
  if (doc?.data.kind === 'plan_job') return err({ code: 'plan_not_found', message: `plan ${planId} is ${doc.data.status === 'running' ? 'still being made' : 'not made: its making failed'}` });
  if (doc?.data.kind !== 'plan') return err({ code: 'plan_not_found', message: `connection ${connectionId} has no plan ${planId} (plans expire ${planLifetimeSeconds / 60} minutes after they are made)` });
  return ok(doc.data);
}

/** GET /connections/{id}/plans/{planId}: the plan with one page of its accounts (`cursor` names the next page). */
export async function readPlan(deps: PlanStoreDeps, connectionId: string, planId: string, cursor?: string): Promise<Result<StoredPlanPage, StoredPlanFailure>> {
  const record = await readRecord(deps, connectionId, planId);
  if (!record.ok) return record;
  const page = cursor === undefined ? 0 : /^[0-9]{1,6}$/.test(cursor) ? Number(cursor) : -1;
  if (page < 0 || (page > 0 && page >= record.value.pages)) return err({ code: 'invalid_cursor', message: 'the cursor is not one this plan gave' });
  const accounts = record.value.pages === 0 ? [] : ((await deps.store.get<PlanPageRecord>('plans', connectionId, pageId(planId, page)))?.data.accounts ?? []);
  return ok({ ...viewOf(record.value), accounts, ...(page + 1 < record.value.pages ? { nextCursor: String(page + 1) } : {}) });
}

/** A stored plan whole: its summary, what was planned, and every account. */
export async function readWholePlan(deps: PlanStoreDeps, connectionId: string, planId: string): Promise<Result<StoredPlanView & { readonly accounts: readonly PlannedAccount[] }, PlanNotFound>> {
  const record = await readRecord(deps, connectionId, planId);
  if (!record.ok) return record;
  const accounts: PlannedAccount[] = [];
  for (let page = 0; page < record.value.pages; page += 1) {
    const doc = await deps.store.get<PlanPageRecord>('plans', connectionId, pageId(planId, page));
    // Expired between the summary and this page: the plan is gone.
    if (doc === undefined) return err({ code: 'plan_not_found', message: `plan ${planId} expired` });
    accounts.push(...doc.data.accounts);
  }
  return ok({ ...viewOf(record.value), accounts });
}
