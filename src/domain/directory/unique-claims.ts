import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';
import { documentIdFor } from './directory-ids';

/*
 * Unique values (a user's email, a username, a group name) are claimed with a document in `uniques`
 * whose id is made of the value: `create` is atomic in both stores, so of two racing claims exactly one wins.
 * The claim is written before the owner's document and released after it changes, so a crash can
 * leave a stale claim behind: one whose owner does not exist or no longer holds the value. A stale
 * claim may be taken over, but only once it is older than any write could take, and with two checks
 * that keep a slow owner and a taker from both winning:
 *   - the taker re-reads the previous owner after taking the claim over and hands it back if the
 *     owner now holds the value;
 *   - the owner confirms its claim after writing its document and undoes the write if it lost it.
 * Whichever of the two moves happens second sees the other's write, so at most one of them keeps
 * the value.
 */

export type ClaimKind = 'email' | 'username' | 'group-name';

export interface ClaimKey {
  readonly kind: ClaimKind;
  /** Already normalised (emails lower-case; usernames and group names are claimed lower-cased). */
  readonly value: string;
}

interface ClaimRecord {
  readonly kind: ClaimKind;
  readonly value: string;
  readonly ownerId: string;
  readonly claimedAt: string;
}

export interface ClaimDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
}

/** Reports whether `ownerId`'s own document holds the claimed value right now (the source of truth). */
export type HolderCheck = (ownerId: string) => Promise<boolean>;

/** A claim younger than this is never taken over: its owner may still be writing its document. */
export const claimTakeoverAfterMs = 60_000;

const maxClaimAttempts = 3;

function claimId(key: ClaimKey): string {
  return documentIdFor(key.kind, key.value);
}

export function emailClaim(email: string): ClaimKey {
  return { kind: 'email', value: email };
}

export function usernameClaim(username: string): ClaimKey {
  return { kind: 'username', value: username.toLowerCase() };
}

export function groupNameClaim(name: string): ClaimKey {
  return { kind: 'group-name', value: name.toLowerCase() };
}

/** Claims `key` for `ownerId`; `taken` when another owner holds it. */
export async function claimUnique(deps: ClaimDeps, key: ClaimKey, ownerId: string, holds: HolderCheck): Promise<Result<void, 'taken'>> {
  const id = claimId(key);
  const record: ClaimRecord = { kind: key.kind, value: key.value, ownerId, claimedAt: deps.clock.now().toISOString() };
  for (let attempt = 0; attempt < maxClaimAttempts; attempt++) {
    const created = await deps.store.create('uniques', id, id, record);
    if (created.ok) return ok(undefined);
    const existing = await deps.store.get<ClaimRecord>('uniques', id, id);
    if (existing === undefined) continue;
    const previous = existing.data;
    if (previous.ownerId === ownerId) return ok(undefined);
    const ageMs = deps.clock.now().getTime() - Date.parse(previous.claimedAt);
    if (!(ageMs >= claimTakeoverAfterMs) || (await holds(previous.ownerId))) return err('taken');
    const taken = await deps.store.replace('uniques', id, id, record, { ifMatch: existing.etag });
    if (!taken.ok) continue;
    if (await holds(previous.ownerId)) {
      await deps.store.replace('uniques', id, id, previous, { ifMatch: taken.value.etag });
      return err('taken');
    }
    return ok(undefined);
  }
  return err('taken');
}

/** True while `ownerId` still holds the claim (an owner checks this after writing its document). */
export async function holdsClaim(deps: ClaimDeps, key: ClaimKey, ownerId: string): Promise<boolean> {
  const id = claimId(key);
  const existing = await deps.store.get<ClaimRecord>('uniques', id, id);
  return existing?.data.ownerId === ownerId;
}

/** The owner named by the claim, if any; the caller checks the owner still holds the value. */
export async function claimOwner(deps: ClaimDeps, key: ClaimKey): Promise<string | undefined> {
  const id = claimId(key);
  return (await deps.store.get<ClaimRecord>('uniques', id, id))?.data.ownerId;
}

/** Releases the claim if `ownerId` holds it; a claim taken over meanwhile is left alone. */
export async function releaseClaim(deps: ClaimDeps, key: ClaimKey, ownerId: string): Promise<void> {
  const id = claimId(key);
  const existing = await deps.store.get<ClaimRecord>('uniques', id, id);
  if (existing?.data.ownerId !== ownerId) return;
  await deps.store.delete('uniques', id, id, { ifMatch: existing.etag });
}
