import { emailSchema } from '../directory/user-schemas';
import type { UserRecord } from '../directory/user-records';
import type { Condition, ContainerName, DocumentStore, StoredDocument } from '../ports/document-store';
import { isBound, type UserBindingRecord } from '../provisioning/binding';
import type { M365Person } from './m365-directory';

/** Where a Microsoft 365 user stands against the directory (DESIGN.md point 7). */
export const importStatuses = ['new', 'imported', 'conflict', 'other_connection'] as const;
export type ImportStatus = (typeof importStatuses)[number];

export interface ResolvedStatus {
  readonly status: ImportStatus;
  /** `imported`: the directory user bound to the account; `conflict`, `other_connection`: the one holding the email. */
  readonly userId?: string;
  /** `other_connection`: the connection that user is bound to. */
  readonly boundConnectionId?: string;
}

/**
 * The email a Microsoft 365 user is imported with: `mail`, falling back to the UPN, normalised as
 * the directory stores emails. Undefined when that is not a valid address.
 */
export function importEmail(person: M365Person): string | undefined {
  const raw = person.mail !== undefined && person.mail !== null && person.mail.trim() !== '' ? person.mail : person.userPrincipalName;
  const parsed = emailSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** The part after the last `@`, lower-cased. */
export function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

// The store's largest page; a batch never needs more than one, but stays correct if it does.
const storePageSize = 1000;

async function queryAll<T>(store: DocumentStore, container: ContainerName, spec: { pk?: string; where: Condition[] }): Promise<StoredDocument<T>[]> {
  const found: StoredDocument<T>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query<T>(container, { ...spec, limit: storePageSize, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

/**
 * The users of a batch bound to this connection (status `imported`), with one store query: the
 * bindings of this connection anchored on their object ids. Users left out are not imported.
 */
export async function resolveImported(store: DocumentStore, connectionId: string, persons: readonly M365Person[]): Promise<Map<string, ResolvedStatus>> {
  const statuses = new Map<string, ResolvedStatus>();
  if (persons.length === 0) return statuses;
  const anchored = await queryAll<UserBindingRecord>(store, 'bindings', {
    pk: connectionId,
    where: [
      { field: 'kind', op: 'eq', value: 'user' },
      { field: 'm365UserId', op: 'in', values: persons.map((p) => p.id) },
    ],
  });
  for (const doc of anchored) {
    if (isBound(doc.data.via) && doc.data.m365UserId !== undefined) statuses.set(doc.data.m365UserId, { status: 'imported', userId: doc.data.userId });
  }
  return statuses;
}

/** The account's UPN as a directory email, when it is one and differs from the import email. */
function upnEmail(person: M365Person, email: string | undefined): string | undefined {
  const parsed = emailSchema.safeParse(person.userPrincipalName);
  return parsed.success && parsed.data !== email ? parsed.data : undefined;
}

/**
 * Resolves the status of a batch of Microsoft 365 users with three store queries whatever the
 * batch size (up to a Graph page): the bindings of this connection anchored on their object ids,
 * the directory users holding their emails, and where those users are bound. A directory user
 * whose email is the account's UPN (where the mail differs) holds it too: provisioning would
 * match that user to the account by UPN. The import email's holder comes first.
 */
export async function resolveStatuses(store: DocumentStore, connectionId: string, persons: readonly M365Person[]): Promise<Map<string, ResolvedStatus>> {
  const statuses = await resolveImported(store, connectionId, persons);

  const keysOf = new Map<string, string[]>();
  for (const person of persons) {
    if (statuses.has(person.id)) continue;
    const email = importEmail(person);
    const upn = upnEmail(person, email);
    const keys = [...(email === undefined ? [] : [email]), ...(upn === undefined ? [] : [upn])];
    if (keys.length > 0) keysOf.set(person.id, keys);
  }
  const owners = new Map<string, string>();
  if (keysOf.size > 0) {
    const users = await queryAll<UserRecord>(store, 'users', { where: [{ field: 'email', op: 'in', values: [...new Set([...keysOf.values()].flat())] }] });
    for (const doc of users) owners.set(doc.data.email, doc.data.id);
  }
  const boundTo = new Map<string, string>();
  if (owners.size > 0) {
    const bindings = await queryAll<UserBindingRecord>(store, 'bindings', {
      where: [
        { field: 'kind', op: 'eq', value: 'user' },
        { field: 'userId', op: 'in', values: [...new Set(owners.values())] },
      ],
    });
    for (const doc of bindings) {
      if (isBound(doc.data.via)) boundTo.set(doc.data.userId, doc.data.connectionId);
    }
  }

  for (const person of persons) {
    if (statuses.has(person.id)) continue;
    const owner = keysOf
      .get(person.id)
      ?.map((key) => owners.get(key))
      .find((id) => id !== undefined);
    if (owner === undefined) {
      statuses.set(person.id, { status: 'new' });
      continue;
    }
    const connection = boundTo.get(owner);
    // Bound here to another account (or not linked yet) is still a directory user the account is not bound to.
    statuses.set(person.id, connection === undefined || connection === connectionId ? { status: 'conflict', userId: owner } : { status: 'other_connection', userId: owner, boundConnectionId: connection });
  }
  return statuses;
}
