import { randomBytes } from 'node:crypto';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { SecretStore } from '../ports/secret-store';
import { err, ok, type Result } from '../result';
import { signingKey, signToken, verifyToken } from '../signing/signing-key';

/** How long a consent URL stays usable. */
export const consentStateLifetimeMs = 10 * 60 * 1000;

const statePartition = 'oauth-consent';
/**
 * A state's document outlives its link so that a sweep still finds what an abandoned link left
 * behind (its PKCE verifier); the store's own expiry is only the last resort.
 */
const stateRecordTtlSeconds = 30 * 24 * 60 * 60;

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
  /** `state_expired`: the state's nonce, so the caller can drop what it kept for it. */
  readonly nonce?: string;
}

/** Issues a signed, expiring, single-use `state` for a consent of the connection. */
export async function issueConsentState(deps: ConsentStateDeps, connectionId: string): Promise<IssuedState> {
  const key = await signingKey(deps, 'oauth-state');
  const nonce = randomBytes(18).toString('base64url');
  const expiresAt = new Date(deps.clock.now().getTime() + consentStateLifetimeMs);
  const state = signToken(key, { c: connectionId, n: nonce, e: expiresAt.getTime() } satisfies StatePayload);
  await deps.store.create<StateRecord>('state', statePartition, nonce, { connectionId, expiresAt: expiresAt.toISOString() }, { ttlSeconds: stateRecordTtlSeconds });
  return { state, nonce, expiresAt };
}

function parse(raw: string, key: Buffer): StatePayload | undefined {
  const value = verifyToken(key, raw);
  if (value === undefined) return undefined;
  const { c, n, e } = value;
  return typeof c === 'string' && typeof n === 'string' && typeof e === 'number' ? { c, n, e } : undefined;
}

/**
 * Checks a returned `state` and consumes it: a state verifies once. Deleting its document is the
 * atomic step, so two callbacks racing with the same state cannot both pass.
 */
export async function consumeConsentState(deps: ConsentStateDeps, raw: string): Promise<Result<{ readonly connectionId: string; readonly nonce: string }, StateRefusal>> {
  const payload = parse(raw, await signingKey(deps, 'oauth-state'));
  if (payload === undefined) return err({ code: 'state_invalid', message: 'The sign-in response does not come from a consent link this service issued.' });
  if (payload.e <= deps.clock.now().getTime()) {
    await deps.store.delete('state', statePartition, payload.n);
    return err({ code: 'state_expired', message: 'The consent link has expired (links are valid for 10 minutes). Start the consent again.', nonce: payload.n });
  }
  const consumed = await deps.store.delete('state', statePartition, payload.n);
  if (!consumed.ok) return err({ code: 'state_used', message: 'This sign-in response has already been used. Start the consent again.' });
  return ok({ connectionId: payload.c, nonce: payload.n });
}

/** Nonces of states whose link expired unused (at most `limit`); `forgetState` removes each once its leftovers are gone. */
export async function expiredStateNonces(deps: ConsentStateDeps, limit: number): Promise<string[]> {
  const page = await deps.store.query<StateRecord>('state', { pk: statePartition, where: [{ field: 'expiresAt', op: 'le', value: deps.clock.now().toISOString() }], limit });
  return page.items.map((doc) => doc.id);
}

export async function forgetState(deps: ConsentStateDeps, nonce: string): Promise<void> {
  await deps.store.delete('state', statePartition, nonce);
}
