import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { SecretStore } from '../ports/secret-store';

/*
 * The service's one signing key, kept in the secret store, and the signed tokens made with it:
 * `base64url(JSON payload).base64url(HMAC-SHA256)`. Each use has its own key derived from it, so a
 * token made for one purpose never verifies for another.
 */

// The name predates the other purposes: the OAuth state was the first token signed with it.
const signingKeySecret = 'oauth-state-signing-key';
const signingKeyClaim = 'secret:oauth-state-signing-key';
const keyWaitMs = 2_000;

export interface SigningKeyDeps {
  readonly store: DocumentStore;
  readonly secrets: SecretStore;
  readonly clock: Clock;
}

/** What a key signs. `oauth-state` is the root key itself, as states have always been signed. */
export type SigningPurpose = 'oauth-state' | 'preview-cursor';

// One key per secret store (i.e. per process and configuration), loaded once.
const keys = new WeakMap<SecretStore, Promise<Buffer>>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function createOrAwaitKey(deps: SigningKeyDeps): Promise<Buffer> {
  const stored = await deps.secrets.get(signingKeySecret);
  if (stored !== undefined) return Buffer.from(stored, 'base64');
  // Hosts starting together must agree on one key: the claim picks who creates it, the others wait.
  const claimed = await deps.store.create('uniques', signingKeyClaim, signingKeyClaim, { createdAt: deps.clock.now().toISOString() });
  if (!claimed.ok) {
    for (let waited = 0; waited < keyWaitMs; waited += 100) {
      await sleep(100);
      const created = await deps.secrets.get(signingKeySecret);
      if (created !== undefined) return Buffer.from(created, 'base64');
    }
    // The claim outlived its secret (a wiped secret store): make a new key rather than fail for ever.
  }
  const key = randomBytes(32);
  await deps.secrets.set(signingKeySecret, key.toString('base64'));
  return key;
}

function rootKey(deps: SigningKeyDeps): Promise<Buffer> {
  let key = keys.get(deps.secrets);
  if (key === undefined) {
    key = createOrAwaitKey(deps);
    keys.set(deps.secrets, key);
    key.catch(() => keys.delete(deps.secrets));
  }
  return key;
}

function mac(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** The key for one purpose, created in the secret store on first use. */
export async function signingKey(deps: SigningKeyDeps, purpose: SigningPurpose): Promise<Buffer> {
  const root = await rootKey(deps);
  return purpose === 'oauth-state' ? root : mac(root, `m365-bridge signing key: ${purpose}`);
}

/** Signs a JSON value into a token. */
export function signToken(key: Buffer, value: unknown): string {
  const payload = Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
  return `${payload}.${mac(key, payload).toString('base64url')}`;
}

/** The JSON object a token carries, or undefined unless it is well-formed and signed with `key`. */
export function verifyToken(key: Buffer, token: string, maxLength = 4096): Record<string, unknown> | undefined {
  if (token.length > maxLength) return undefined;
  const [payload, signature, extra] = token.split('.');
  if (payload === undefined || signature === undefined || extra !== undefined) return undefined;
  const expected = mac(key, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
