import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';

/**
 * Unique claims in the `uniques` container: `tenant:<tenantId>` (one tenant, one connection) and
 * `domain:<domain>` (a domain claimed once). Create-if-absent makes each claim race-safe.
 */
export type ClaimKind = 'tenant' | 'domain';

interface ClaimRecord {
  readonly kind: ClaimKind;
  readonly value: string;
  readonly connectionId: string;
  readonly claimedAt: string;
}

export interface ClaimDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
}

function claimKey(kind: ClaimKind, value: string): string {
  return `${kind}:${value.toLowerCase()}`;
}

/** The connection holding the claim, if any. */
export async function claimHolder(deps: Pick<ClaimDeps, 'store'>, kind: ClaimKind, value: string): Promise<string | undefined> {
  const key = claimKey(kind, value);
  const doc = await deps.store.get<ClaimRecord>('uniques', key, key);
  return doc?.data.connectionId;
}

/** Claims `value` for the connection; succeeds again (`created: false`) when the connection already holds it. */
export async function claim(deps: ClaimDeps, kind: ClaimKind, value: string, connectionId: string): Promise<Result<{ readonly created: boolean }, { readonly holder: string }>> {
  const key = claimKey(kind, value);
  // A claim released between our failed create and our read is simply tried again.
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const created = await deps.store.create<ClaimRecord>('uniques', key, key, { kind, value: value.toLowerCase(), connectionId, claimedAt: deps.clock.now().toISOString() });
    if (created.ok) return ok({ created: true });
    const existing = await deps.store.get<ClaimRecord>('uniques', key, key);
    if (existing === undefined) continue;
    return existing.data.connectionId === connectionId ? ok({ created: false }) : err({ holder: existing.data.connectionId });
  }
  throw new Error(`claim ${key} kept changing hands`);
}

/** Releases the claim if (and only if) the connection holds it. */
export async function release(deps: Pick<ClaimDeps, 'store'>, kind: ClaimKind, value: string, connectionId: string): Promise<void> {
  const key = claimKey(kind, value);
  const existing = await deps.store.get<ClaimRecord>('uniques', key, key);
  if (existing === undefined || existing.data.connectionId !== connectionId) return;
  // ifMatch: a claim taken over by another connection in between is not ours to delete.
  await deps.store.delete('uniques', key, key, { ifMatch: existing.etag });
}

/**
 * Claims every domain, or none: on the first domain held elsewhere, the claims this call created
 * are released again and that domain is reported. Returns the claims it created.
 */
export async function claimDomains(deps: ClaimDeps, domains: readonly string[], connectionId: string): Promise<Result<string[], { readonly domain: string; readonly holder: string }>> {
  const created: string[] = [];
  for (const domain of domains) {
    const result = await claim(deps, 'domain', domain, connectionId);
    if (!result.ok) {
      for (const done of created) await release(deps, 'domain', done, connectionId);
      return err({ domain, holder: result.error.holder });
    }
    if (result.value.created) created.push(domain);
  }
  return ok(created);
}
