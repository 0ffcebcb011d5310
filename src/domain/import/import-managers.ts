import type { UserRecord } from '../directory/user-records';
import { updateUser } from '../directory/users';
import type { DocumentStore, StoredDocument } from '../ports/document-store';
import { isBound, type UserBindingRecord } from '../provisioning/binding';
import type { ImportResultRecord } from './import-jobs';
import type { ImportUserDeps } from './import-user';

async function queryAll<T>(store: DocumentStore, container: 'bindings' | 'jobs', pk: string, where: Parameters<DocumentStore['query']>[1]['where']): Promise<StoredDocument<T>[]> {
  const found: StoredDocument<T>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query<T>(container, { pk, where, limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

/** Users an import created itself (not linked to an existing directory user, whose manager is the directory's). */
function created(result: ImportResultRecord): boolean {
  return result.type === 'user' && result.outcome === 'imported' && result.linked !== true && result.directoryId !== undefined;
}

/**
 * Gives the directory users a page created the manager their accounts have, where that manager is
 * imported on this connection too: the page's users whose manager was imported before (any job),
 * and the users imported earlier (this job, or any bound user whose binding holds a manager on this
 * page) whose manager is on this page. A manager the
 * directory user has already is left alone. The binding holds the account's manager since the
 * link, so provisioning finds the reference set and writes nothing.
 */
export async function linkImportedManagers(deps: ImportUserDeps, jobId: string, connectionId: string, page: readonly ImportResultRecord[]): Promise<void> {
  const mine = page.filter(created);
  if (mine.length === 0) return;
  const pairs: { report: string; managerAccount: string }[] = [];
  for (const result of mine) if (result.m365ManagerId !== undefined) pairs.push({ report: result.directoryId as string, managerAccount: result.m365ManagerId });
  const earlierReports = await queryAll<ImportResultRecord>(deps.store, 'jobs', jobId, [
    { field: 'record', op: 'eq', value: 'result' },
    { field: 'm365ManagerId', op: 'in', values: mine.map((r) => r.m365Id) },
  ]);
  for (const doc of earlierReports) if (created(doc.data)) pairs.push({ report: doc.data.directoryId as string, managerAccount: doc.data.m365ManagerId as string });
  // Reports imported by an earlier job (a manager named by id after a filter import, say): their
  // bindings hold the manager their account had when they were linked.
  const reportBindings = await queryAll<UserBindingRecord>(deps.store, 'bindings', connectionId, [
    { field: 'kind', op: 'eq', value: 'user' },
    { field: 'managerM365Id', op: 'in', values: mine.map((r) => r.m365Id) },
  ]);
  const paired = new Set(pairs.map((p) => p.report));
  for (const doc of reportBindings) {
    if (isBound(doc.data.via) && !paired.has(doc.data.userId)) pairs.push({ report: doc.data.userId, managerAccount: doc.data.managerM365Id as string });
  }
  if (pairs.length === 0) return;

  const managers = await queryAll<UserBindingRecord>(deps.store, 'bindings', connectionId, [
    { field: 'kind', op: 'eq', value: 'user' },
    { field: 'm365UserId', op: 'in', values: [...new Set(pairs.map((p) => p.managerAccount))] },
  ]);
  const managerUser = new Map<string, string>();
  for (const doc of managers) if (isBound(doc.data.via) && doc.data.m365UserId !== undefined) managerUser.set(doc.data.m365UserId, doc.data.userId);

  for (const { report, managerAccount } of pairs) {
    const managerId = managerUser.get(managerAccount);
    if (managerId === undefined || managerId === report) continue;
    const current = await deps.store.get<UserRecord>('users', report, report);
    if (current === undefined || current.data.managerId !== undefined) continue;
    const set = await updateUser(deps, report, { managerId }, { ifMatch: current.etag });
    // Changed meanwhile: whoever changed it decides, and the next page or refresh can try again.
    if (!set.ok) deps.logger.debug('imported manager not set', { userId: report, managerId, code: set.error.code });
  }
}
