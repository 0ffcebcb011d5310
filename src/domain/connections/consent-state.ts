import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { SecretStore } from '../ports/secret-store';
import { err, ok, type Result } from '../result';

/** How long a consent URL stays usable. */
export const consentStateLifetimeMs = 10 * 60 * 1000;

const signingKeySecret = 'oauth-state-signing-key';
const signingKeyClaim = 'secret:oauth-state-signing-key';
const statePartition = 'oauth-consent';
const keyWaitMs = 2_000;

export interface ConsentStateDeps {
  readonly store: DocumentStore;
  readonly secrets: SecretStore;
  readonly clock: Clock;
}

interface StatePayload {
  /** connection id */
  readonly c: string;
  /** nonce: the state document's id and the PKCE verifier's key */
  readonly n: string;
  /** expiry, epoch ms */
  readonly e: number;
}

interface StateRecord {
  readonly connectionId: string;
  readonly expiresAt: string;
}

export interface IssuedState {
  /** The value of the `state` parameter. */
  readonly state: string;
  readonly nonce: string;
  readonly expiresAt: Date;
}

export interface StateRefusal {
  readonly code: 'state_invalid' | 'state_expired' | 'state_used';
  readonly message: string;
}

// One key per secret store (i.e. per process and configuration), loaded once.
const keys = new WeakMap<SecretStore, Promise<Buffer>>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function createOrAwaitKey(deps: ConsentStateDeps): Promise<Buffer> {
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

function signingKey(deps: ConsentStateDeps): Promise<Buffer> {
  let key = keys.get(deps.secrets);
  if (key === undefined) {
    key = createOrAwaitKey(deps);
    keys.set(deps.secrets, key);
    key.catch(() => keys.delete(deps.secrets));
  }
  return key;
}

function sign(key: Buffer, payload: string): Buffer {
  return createHmac('sha256', key).update(payload).digest();
}

/** Issues a signed, expiring, single-use `state` for a consent of the connection. */
export async function issueConsentState(deps: ConsentStateDeps, connectionId: string): Promise<IssuedState> {
  const key = await signingKey(deps);
  const nonce = randomBytes(18).toString('base64url');
  const expiresAt = new Date(deps.clock.now().getTime() + consentStateLifetimeMs);
  const payload = Buffer.from(JSON.stringify({ c: connectionId, n: nonce, e: expiresAt.getTime() } satisfies StatePayload)).toString('base64url');
  const state = `${payload}.${sign(key, payload).toString('base64url')}`;
  await deps.store.create<StateRecord>('state', statePartition, nonce, { connectionId, expiresAt: expiresAt.toISOString() }, { ttlSeconds: Math.ceil(consentStateLifetimeMs / 1000) });
  return { state, nonce, expiresAt };
}

function parse(raw: string, key: Buffer): StatePayload | undefined {
  const [payload, signature, extra] = raw.split('.');
  if (payload === undefined || signature === undefined || extra !== undefined) return undefined;
  const expected = sign(key, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { c, n, e } = value as Record<string, unknown>;
    return typeof c === 'string' && typeof n === 'string' && typeof e === 'number' ? { c, n, e } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a returned `state` and consumes it: a state verifies once. Deleting its document is the
 * atomic step, so two callbacks racing with the same state cannot both pass.
 */
export async function consumeConsentState(deps: ConsentStateDeps, raw: string): Promise<Result<{ readonly connectionId: string; readonly nonce: string }, StateRefusal>> {
  const payload = raw.length > 4096 ? undefined : parse(raw, await signingKey(deps));
  if (payload === undefined) return err({ code: 'state_invalid', message: 'The sign-in response does not come from a consent link this service issued.' });
  if (payload.e <= deps.clock.now().getTime()) return err({ code: 'state_expired', message: 'The consent link has expired (links are valid for 10 minutes). Start the consent again.' });
  const consumed = await deps.store.delete('state', statePartition, payload.n);
  if (!consumed.ok) return err({ code: 'state_used', message: 'This sign-in response has already been used. Start the consent again.' });
  return ok({ connectionId: payload.c, nonce: payload.n });
}
