import type { ConnectionRecord } from '../connections/connection';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { signToken, verifyToken } from '../signing/signing-key';
import { readFailure, type ImportFailure } from './import-failures';
import { filterFingerprint, matchesPerson, matchesStatus, type ImportFilter } from './import-filter';
import { importEmail, resolveImported, resolveStatuses, type ImportStatus, type ResolvedStatus } from './import-status';
import type { M365Directories, M365Page, M365Person } from './m365-directory';
import { privilegeOf, type Privilege } from '../provisioning/privileged-accounts';

export interface PreviewQuery extends ImportFilter {
  readonly limit: number;
  readonly cursor?: string;
}

/** One Microsoft 365 user as the preview lists it. */
export interface PreviewItem {
  readonly id: string;
  readonly userPrincipalName: string;
  readonly mail?: string;
  /** The email an import would give the directory user (mail, else the UPN); absent when neither is valid. */
  readonly email?: string;
  readonly displayName?: string;
  readonly givenName?: string;
  readonly surname?: string;
  readonly accountEnabled: boolean;
  readonly status: ImportStatus;
  /** `imported`: the bound directory user; `conflict`, `other_connection`: the one holding the email. */
  readonly userId?: string;
  /** `other_connection`: where that directory user is bound. */
  readonly boundConnectionId?: string;
  /** Holds a directory role Microsoft labels privileged: imported only when named by id, never disabled, re-passworded or renamed without `allowPrivileged`. */
  readonly privileged?: true;
  /** The account this connection was consented with (protected the same way). */
  readonly consentingAccount?: true;
}

export interface PreviewPage {
  readonly items: PreviewItem[];
  /** Absent once the tenant is read to the end. A page can hold fewer than `limit` items and still have one. */
  readonly nextCursor?: string;
}

export interface PreviewDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly directories: M365Directories;
  readonly pages: GraphPageCache;
  /** The key cursors are signed with: a cursor carries the Graph link the next request follows. */
  readonly cursorKey: () => Promise<Buffer>;
}

/**
 * Graph pages one request reads at most before it answers with what it found and a cursor, so a
 * selective filter over a large tenant answers in seconds rather than holding the request open.
 */
export const maxGraphPagesPerRequest = 5;

/** Where a listing stands: the Graph page (its link; none for the first) and how far into it. */
interface CursorState {
  readonly page: string | undefined;
  readonly offset: number;
}

interface CursorPayload {
  readonly v: 1;
  readonly c: string;
  readonly f: string;
  readonly p: string | null;
  readonly o: number;
}

// Signed: the Graph link in a cursor is followed with the connection's token, so a client must not
// be able to write one (it could steer any query to Graph).
function encodeCursor(key: Buffer, connectionId: string, filter: ImportFilter, state: CursorState): string {
  return signToken(key, { v: 1, c: connectionId, f: filterFingerprint(filter), p: state.page ?? null, o: state.offset } satisfies CursorPayload);
}

function decodeCursor(key: Buffer, cursor: string, connectionId: string, filter: ImportFilter): CursorState | undefined {
  const payload = verifyToken(key, cursor);
  if (payload === undefined || payload.v !== 1 || payload.c !== connectionId || payload.f !== filterFingerprint(filter)) return undefined;
  const { p, o } = payload;
  if (!(p === null || typeof p === 'string') || typeof o !== 'number' || !Number.isInteger(o) || o < 0) return undefined;
  return { page: p ?? undefined, offset: o };
}

interface CachedPage {
  readonly page: M365Page<M365Person>;
  readonly expiresAtMs: number;
}

/**
 * The Graph pages a listing stopped part-way into, so an admin paging with a `limit` smaller than
 * Graph's page reads each Graph page once, not once per admin page. Only continuations (requests
 * with a cursor) read from it: a fresh listing always asks Graph. A page read to its end is dropped,
 * since no cursor points into it any more. Bounded in entries and age; per process.
 */
export class GraphPageCache {
  private readonly entries = new Map<string, CachedPage>();

  constructor(
    private readonly clock: Clock,
    private readonly maxEntries = 8,
    private readonly ttlMs = 60_000,
  ) {}

  get(key: string): M365Page<M365Person> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.page;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  set(key: string, page: M365Page<M365Person>): void {
    this.entries.delete(key);
    this.entries.set(key, { page, expiresAtMs: this.clock.now().getTime() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}

/** Reads a connection and checks its tenant can be read now. */
export async function readableConnection(store: DocumentStore, connectionId: string): Promise<Result<ConnectionRecord, ImportFailure>> {
  const connection = (await store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
  if (connection === undefined) return err({ code: 'connection_not_found', message: `connection ${connectionId} not found` });
  if (connection.status !== 'active' && connection.status !== 'sync_paused') {
    return err({ code: 'connection_not_active', message: `connection ${connectionId} is ${connection.status}; its tenant can be read once a Global Administrator has consented` });
  }
  return ok(connection);
}

function toItem(person: M365Person, resolved: ResolvedStatus, privilege: Privilege): PreviewItem {
  const email = importEmail(person);
  const text = (value: string | null | undefined) => (typeof value === 'string' && value !== '' ? value : undefined);
  const mail = text(person.mail);
  const displayName = text(person.displayName);
  const givenName = text(person.givenName);
  const surname = text(person.surname);
  // Filled in place: a full scan builds one per tenant user, and spreads would allocate several more each.
  const item: { -readonly [K in keyof PreviewItem]: PreviewItem[K] } = { id: person.id, userPrincipalName: person.userPrincipalName, accountEnabled: person.accountEnabled !== false, status: resolved.status };
  if (mail !== undefined) item.mail = mail;
  if (email !== undefined) item.email = email;
  if (displayName !== undefined) item.displayName = displayName;
  if (givenName !== undefined) item.givenName = givenName;
  if (surname !== undefined) item.surname = surname;
  if (resolved.userId !== undefined) item.userId = resolved.userId;
  if (resolved.boundConnectionId !== undefined) item.boundConnectionId = resolved.boundConnectionId;
  if (privilege.privileged) item.privileged = true;
  if (privilege.consentingAccount) item.consentingAccount = true;
  return item;
}

/**
 * GET /connections/{id}/m365/users: the tenant's users with their status against the directory,
 * filtered and paged. Streams Graph's largest pages (a cursor names a Graph page and a position in
 * it) and resolves statuses per page in one batch of store queries, so neither the tenant nor one
 * query per user is ever needed.
 */
export async function previewM365Users(deps: PreviewDeps, connectionId: string, query: PreviewQuery): Promise<Result<PreviewPage, ImportFailure>> {
  const connection = await readableConnection(deps.store, connectionId);
  if (!connection.ok) return connection;
  const filter: ImportFilter = { status: query.status, domain: query.domain, q: query.q, enabled: query.enabled };
  const key = await deps.cursorKey();
  let state: CursorState = { page: undefined, offset: 0 };
  if (query.cursor !== undefined) {
    const decoded = decodeCursor(key, query.cursor, connectionId, filter);
    if (decoded === undefined) return err({ code: 'invalid_cursor', message: 'query.cursor: not a cursor of this list (cursors belong to one connection and one set of filters)' });
    state = decoded;
  }
  const directory = deps.directories.forConnection(connectionId);
  const holders = await directory.privilegedRoleHolders();
  if (!holders.ok) return err(readFailure(holders.error));
  const items: PreviewItem[] = [];
  for (let read = 0; read < maxGraphPagesPerRequest; read += 1) {
    const cacheKey = `${connectionId}\n${String(filter.enabled)}\n${state.page ?? ''}`;
    let page = query.cursor === undefined && read === 0 ? undefined : deps.pages.get(cacheKey);
    if (page === undefined) {
      const fetched = await directory.listUsers({ ...(filter.enabled === undefined ? {} : { enabled: filter.enabled }), ...(state.page === undefined ? {} : { page: state.page }) });
      if (!fetched.ok) return err(readFailure(fetched.error));
      page = fetched.value;
    }
    const candidates: number[] = [];
    for (let index = state.offset; index < page.items.length; index += 1) {
      if (matchesPerson(page.items[index] as M365Person, filter)) candidates.push(index);
    }
    // Without a status filter only the users shown need a status.
    const needed = filter.status === undefined ? candidates.slice(0, query.limit - items.length) : candidates;
    const batch = needed.map((index) => page.items[index] as M365Person);
    // Listing imported users only needs the bindings: whatever else a user is, it is left out.
    const statuses = filter.status === 'imported' ? await resolveImported(deps.store, connectionId, batch) : await resolveStatuses(deps.store, connectionId, batch);
    for (const index of needed) {
      const person = page.items[index] as M365Person;
      const resolved = statuses.get(person.id) ?? { status: 'new' };
      if (!matchesStatus(resolved.status, filter)) continue;
      items.push(toItem(person, resolved, privilegeOf(connection.value, holders.value, person.id)));
      if (items.length === query.limit) {
        const next: CursorState | undefined = index + 1 < page.items.length ? { page: state.page, offset: index + 1 } : page.nextPage === undefined ? undefined : { page: page.nextPage, offset: 0 };
        // Only the page the cursor points into is worth keeping: the next one has not been read.
        if (next !== undefined && next.page === state.page) deps.pages.set(cacheKey, page);
        else deps.pages.delete(cacheKey);
        return ok({ items, ...(next === undefined ? {} : { nextCursor: encodeCursor(key, connectionId, filter, next) }) });
      }
    }
    deps.pages.delete(cacheKey);
    if (page.nextPage === undefined) return ok({ items });
    state = { page: page.nextPage, offset: 0 };
  }
  return ok({ items, nextCursor: encodeCursor(key, connectionId, filter, state) });
}
