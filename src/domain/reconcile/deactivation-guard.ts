import { createHash } from 'node:crypto';
import type { ConnectionSettings } from '../connections/connection';

/**
 * What the guard is asked about: disabling or deleting an account (the deactivation guard,
 * `deactivationGuard`), or writing to an existing account's attributes or password, renaming it
 * included (the change guard, `changeGuard`). Creating an account is never held.
 */
export const guardedChanges = ['deactivate', 'delete', 'update', 'rename'] as const;
export type GuardedChange = (typeof guardedChanges)[number];

/** Deactivations and deletes are counted against `deactivationGuard`; the other writes against `changeGuard`. */
export function isDeactivation(change: GuardedChange): boolean {
  return change === 'deactivate' || change === 'delete';
}

/** A write the provisioning worker is about to make to an existing account. */
export interface DeactivationRequest {
  readonly connectionId: string;
  readonly userId: string;
  /** The binding's incarnation and the change number the worker is handling. */
  readonly incarnation: string;
  readonly changeSeq: number;
  readonly m365UserId: string;
  readonly change: GuardedChange;
  /** The attributes the write sets (names only), for the admin deciding on a held one. */
  readonly attributes: readonly string[];
  /** `writeDigest` of the write: a write confirmed in advance (a plan) passes only if it is this one. */
  readonly digest: string;
  /**
   * The write comes from a fan-out (a bind, a reconcile run): it waits until its
   * burst has shown its size before it passes. Deactivations always wait.
   */
  readonly burst: boolean;
  /**
   * An attribute write that carries only edits of the user's own attributes (no password, no
   * rename): the change itself, not counted, unless an earlier write of that user is held, which
   * it would carry along.
   */
  readonly userEdit?: boolean;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}

/**
 * Names one write to one account: the attributes it sets with their values (the manager link as
 * `manager`), and whether it sets a
 * password (never the password itself). A plan and the worker computing the same write agree on it.
 */
export function writeDigest(attributes: Readonly<Record<string, unknown>>, passwordSet: boolean): string {
  return createHash('sha256').update(JSON.stringify([canonical(attributes), passwordSet])).digest('base64url');
}

/**
 * `proceed`: write it. `wait`: try again at `untilMs`, once the burst it belongs to has shown its
 * size. `held`: deactivations of the connection are paused; the guard recorded this one for an
 * admin to confirm or cancel, and the worker finishes without writing.
 */
export type DeactivationVerdict = { readonly kind: 'proceed' } | { readonly kind: 'wait'; readonly untilMs: number } | { readonly kind: 'held' };

/**
 * Asked by the provisioning worker before it disables, deletes or writes to an existing Microsoft 365
 * account (DESIGN.md points 16 and 18).
 */
export interface DeactivationGuard {
  admit(request: DeactivationRequest): Promise<DeactivationVerdict>;
}

/** `lastError.code` of a binding whose held deactivation an admin cancelled. */
export const cancelledDeactivationCode = 'DEACTIVATION_CANCELLED';
/** `lastError.code` of a binding whose held attribute write or rename an admin cancelled. */
export const cancelledChangeCode = 'CHANGE_CANCELLED';

/** Whether a binding error is an admin's cancel of a held change: left alone until the user changes again. */
export function isCancelledChange(code: string | undefined): boolean {
  return code === cancelledDeactivationCode || code === cancelledChangeCode;
}

/**
 * The share rule never holds back fewer deactivations than this: on a connection with a handful of
 * bound users, 10% would pause on the first one.
 */
export const minimumShareLimit = 10;

/**
 * How many deactivations (or, for the change guard, writes to existing accounts) an hour pass
 * without an admin: `maxUsers`, or `maxPercent` of the connection's active bindings, whichever is
 * smaller (the share rule at least `minimumShareLimit`).
 */
export function guardLimit(guard: ConnectionSettings['deactivationGuard'] | ConnectionSettings['changeGuard'], activeBindings: number): number {
  const share = Math.max(minimumShareLimit, Math.floor((activeBindings * guard.maxPercent) / 100));
  return Math.min(guard.maxUsers, share);
}
