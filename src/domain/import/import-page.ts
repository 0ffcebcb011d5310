import type { ConnectionRecord } from '../connections/connection';
import { newDirectoryId } from '../directory/directory-ids';
import type { Clock } from '../ports/clock';
import type { DocumentStore, StoredDocument } from '../ports/document-store';
import { matchesStatus, type ImportFilter } from './import-filter';
import { pageKey, resultId, type ImportResultRecord, type PageCounts } from './import-jobs';
import { resolveStatuses } from './import-status';
import { isProtected, privilegeOf } from '../provisioning/privileged-accounts';
import { linkImportedManagers } from './import-managers';
import { importUser, type ImportUserDeps, type UserOutcome } from './import-user';
import type { M365Person } from './m365-directory';

/** Users of one page imported at once: the store round trips of one user overlap those of others. */
const concurrentUsers = 8;

/** Plans outlive any retry of their page; after that they are only clutter. */
const planTtlSeconds = 7 * 24 * 60 * 60;

/**
 * The directory ids a page will create, written before it creates anything (id `plan:<stream>:<page>`):
 * a retry of the page after a crash knows which directory user or group it made itself.
 */
interface PlanRecord {
  readonly record: 'plan';
  readonly users: Readonly<Record<string, string>>;
  readonly group?: string;
}

export interface Plan {
  readonly users: ReadonlyMap<string, string>;
  readonly group: string | undefined;
}

/** The page's plan, with an id for every user (and the group) it does not have one for yet. */
export async function ensurePlan(deps: { store: DocumentStore; clock: Clock }, jobId: string, key: string, m365UserIds: readonly string[], needsGroup: boolean): Promise<Plan> {
  const id = `plan:${key}`;
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const current = await deps.store.get<PlanRecord>('jobs', jobId, id);
    const users: Record<string, string> = { ...current?.data.users };
    let changed = current === undefined;
    for (const m365Id of m365UserIds) {
      if (users[m365Id] !== undefined) continue;
      users[m365Id] = newDirectoryId(deps.clock);
      changed = true;
    }
    let group = current?.data.group;
    if (needsGroup && group === undefined) {
      group = newDirectoryId(deps.clock);
      changed = true;
    }
    const plan: Plan = { users: new Map(Object.entries(users)), group };
    if (!changed) return plan;
    const record: PlanRecord = { record: 'plan', users, ...(group === undefined ? {} : { group }) };
    const written = current === undefined ? await deps.store.create('jobs', jobId, id, record, { ttlSeconds: planTtlSeconds }) : await deps.store.replace('jobs', jobId, id, record, { ifMatch: current.etag, ttlSeconds: planTtlSeconds });
    if (written.ok) return plan;
  }
  throw new Error(`the plan of import page ${jobId}/${key} kept changing while being written`);
}

/** Lets timers and I/O run: with a synchronous store (SQLite) a page would otherwise hold the event loop for its whole length. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await run(item);
      await yieldToEventLoop();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

function resultOf(outcome: UserOutcome, person: M365Person, key: string, at: string): ImportResultRecord {
  return {
    record: 'result',
    type: 'user',
    m365Id: person.id,
    name: person.userPrincipalName,
    outcome: outcome.outcome,
    ...(outcome.outcome === 'failed' ? {} : { directoryId: outcome.userId }),
    ...(outcome.outcome === 'imported' && outcome.linked === true ? { linked: true } : {}),
    ...(outcome.outcome === 'imported' ? {} : { reason: outcome.reason }),
    ...(person.managerId === undefined ? {} : { m365ManagerId: person.managerId }),
    page: key,
    at,
  };
}

/** Writes a result once; a result already there (an earlier attempt of the page) is the one that stands. */
export async function recordResult(store: DocumentStore, jobId: string, record: ImportResultRecord): Promise<ImportResultRecord> {
  const id = resultId(record.type, record.m365Id);
  const created = await store.create<ImportResultRecord>('jobs', jobId, id, record);
  if (created.ok) return record;
  return (await store.get<ImportResultRecord>('jobs', jobId, id))?.data ?? record;
}

export function countResults(results: readonly ImportResultRecord[], key: string): PageCounts {
  const mine = results.filter((result) => result.page === key);
  return {
    succeeded: mine.filter((r) => r.outcome === 'imported').length,
    failed: mine.filter((r) => r.outcome === 'failed').length,
    skipped: mine.filter((r) => r.outcome === 'skipped').length,
  };
}

export interface PageContext {
  readonly jobId: string;
  readonly connection: ConnectionRecord;
  /** Users already imported have their attributes read again. */
  readonly refresh: boolean;
  /**
   * Privileged role holders, for pages whose users were not named by id (a filter, a group): those
   * and the consenting account are left out, since importing binds them to the directory.
   */
  readonly roleHolders?: ReadonlySet<string>;
  readonly stream: number;
  readonly page: number;
}

/**
 * Imports the users of one page, exactly once across retries: a user with a result in this job
 * is not imported again (its result stands), the others get their planned ids and are resolved
 * against the directory in one batch. With a status filter, users whose status does not match
 * are left out, except those this page already created or bound itself. Returns every result of
 * the page's users, including ones recorded by other pages of the job (a member of two groups).
 */
export async function importPersons(deps: ImportUserDeps, context: PageContext, persons: readonly M365Person[], filter: ImportFilter = {}): Promise<ImportResultRecord[]> {
  const key = pageKey(context.stream, context.page);
  const existing = await deps.store.getMany<ImportResultRecord>('jobs', context.jobId, persons.map((p) => resultId('user', p.id)));
  const handled = new Map(existing.map((doc: StoredDocument<ImportResultRecord>) => [doc.data.m365Id, doc.data]));
  const pending = persons.filter((person) => !handled.has(person.id));
  const results: ImportResultRecord[] = [...handled.values()];
  if (pending.length === 0) return results;
  const plan = await ensurePlan(deps, context.jobId, key, pending.map((p) => p.id), false);
  const statuses = await resolveStatuses(deps.store, context.connection.id, pending);
  await forEachLimited(pending, concurrentUsers, async (person) => {
    const resolved = statuses.get(person.id) ?? { status: 'new' };
    const planned = plan.users.get(person.id) as string;
    const ours = resolved.userId !== undefined && resolved.userId === planned;
    if (!ours && !matchesStatus(resolved.status, filter)) return;
    const privilege = context.roleHolders === undefined ? undefined : privilegeOf(context.connection, context.roleHolders, person.id);
    if (!ours && resolved.status === 'new' && privilege !== undefined && isProtected(privilege)) {
      const reason = `${privilege.consentingAccount ? 'the account this connection was consented with' : 'an account holding a privileged directory role'} is imported only when named by id (m365UserIds), never through a filter or a group`;
      results.push(await recordResult(deps.store, context.jobId, { record: 'result', type: 'user', m365Id: person.id, name: person.userPrincipalName, outcome: 'skipped', reason, page: key, at: deps.clock.now().toISOString() }));
      return;
    }
    const outcome = await importUser(deps, context.connection, person, resolved, planned, { refresh: context.refresh });
    results.push(await recordResult(deps.store, context.jobId, resultOf(outcome, person, key, deps.clock.now().toISOString())));
  });
  await linkImportedManagers(deps, context.jobId, context.connection.id, results);
  return results;
}
