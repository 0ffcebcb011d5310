import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';

export type ApiKeyRole = 'admin' | 'reader';

/** Who is calling: an API key's id and role (`env` for the ADMIN_API_KEY setting). */
export interface Caller {
  readonly keyId: string;
  readonly role: ApiKeyRole;
}

/** An API key as stored: only the SHA-256 of the key, never the key. */
interface ApiKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  readonly hash: string;
  readonly createdAt: string;
}

/** An API key as the API shows it. */
export interface ApiKeyView {
  readonly id: string;
  readonly name: string;
  readonly role: ApiKeyRole;
  readonly createdAt: string;
}

export interface ApiKeyDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly config: { readonly adminApiKey: string | undefined };
}

const keyPrefix = 'm365b_';
const keyShape = /^m365b_([a-f0-9]{16})_([A-Za-z0-9_-]{43})$/;

// Keys carry 256 random bits, so a fast hash is as strong as a slow one here and keeps auth cheap.
function hashKey(raw: string): Buffer {
  return createHash('sha256').update(raw, 'utf8').digest();
}

function toView(record: ApiKeyRecord): ApiKeyView {
  return { id: record.id, name: record.name, role: record.role, createdAt: record.createdAt };
}

/** Creates a key; the returned `key` is the only time the secret is ever shown. */
export async function createApiKey(deps: ApiKeyDeps, input: { name: string; role: ApiKeyRole }): Promise<ApiKeyView & { key: string }> {
  const id = randomBytes(8).toString('hex');
  const key = `${keyPrefix}${id}_${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = { id, name: input.name, role: input.role, hash: hashKey(key).toString('hex'), createdAt: deps.clock.now().toISOString() };
  const created = await deps.store.create('keys', id, id, record);
  if (!created.ok) throw new Error('API key id collision');
  return { ...toView(record), key };
}

export async function listApiKeys(deps: ApiKeyDeps, page: { limit: number; cursor?: string }): Promise<{ items: ApiKeyView[]; nextCursor?: string }> {
  const result = await deps.store.query<ApiKeyRecord>('keys', { orderBy: { field: 'createdAt', direction: 'asc' }, limit: page.limit, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) });
  return { items: result.items.map((doc) => toView(doc.data)), ...(result.nextCursor === undefined ? {} : { nextCursor: result.nextCursor }) };
}

export async function deleteApiKey(deps: ApiKeyDeps, id: string): Promise<Result<void, 'not_found'>> {
  const deleted = await deps.store.delete('keys', id, id);
  return deleted.ok ? ok(undefined) : err('not_found');
}

/** Resolves a presented key to its caller, comparing hashes in constant time; undefined if unknown. */
export async function authenticateApiKey(deps: ApiKeyDeps, raw: string): Promise<Caller | undefined> {
  const presented = hashKey(raw);
  const configured = deps.config.adminApiKey;
  if (configured !== undefined && timingSafeEqual(presented, hashKey(configured))) return { keyId: 'env', role: 'admin' };
  const match = keyShape.exec(raw);
  if (match === null) return undefined;
  const id = match[1] as string;
  const doc = await deps.store.get<ApiKeyRecord>('keys', id, id);
  if (doc === undefined) return undefined;
  return timingSafeEqual(presented, Buffer.from(doc.data.hash, 'hex')) ? { keyId: id, role: doc.data.role } : undefined;
}

/**
 * On a first start with no ADMIN_API_KEY and no keys, creates one admin key and returns it so the
 * host can print it once. A claim document makes this happen once even with several hosts starting.
 */
export async function ensureBootstrapKey(deps: ApiKeyDeps): Promise<string | undefined> {
  if (deps.config.adminApiKey !== undefined) return undefined;
  if ((await deps.store.count('keys', {})) > 0) return undefined;
  const claim = await deps.store.create('uniques', 'bootstrap:admin-key', 'bootstrap:admin-key', { createdAt: deps.clock.now().toISOString() });
  if (!claim.ok) return undefined;
  const created = await createApiKey(deps, { name: 'bootstrap admin', role: 'admin' });
  return created.key;
}
