import type { ConnectionSettings } from '../connections/connection';

/** A deactivation the provisioning worker is about to write. */
export interface DeactivationRequest {
  readonly connectionId: string;
  readonly userId: string;
  /** The binding's incarnation and the change number the worker is handling. */
  readonly incarnation: string;
  readonly changeSeq: number;
  readonly m365UserId: string;
}

/**
 * `proceed`: write it. `wait`: try again at `untilMs`, once the burst it belongs to has shown its
 * size. `held`: deactivations of the connection are paused; the guard recorded this one for an
 * admin to confirm or cancel, and the worker finishes without writing.
 */
export type DeactivationVerdict = { readonly kind: 'proceed' } | { readonly kind: 'wait'; readonly untilMs: number } | { readonly kind: 'held' };

/** Asked by the provisioning worker before it disables a Microsoft 365 account (DESIGN.md point 16). */
export interface DeactivationGuard {
  admit(request: DeactivationRequest): Promise<DeactivationVerdict>;
}

/** `lastError.code` of a binding whose held deactivation an admin cancelled. */
export const cancelledDeactivationCode = 'DEACTIVATION_CANCELLED';

/**
 * The share rule never holds back fewer deactivations than this: on a connection with a handful of
 * bound users, 10% would pause on the first one.
 */
export const minimumShareLimit = 10;

/**
 * How many deactivations an hour pass without an admin: `maxUsers`, or `maxPercent` of the
 * connection's active bindings, whichever is smaller (the share rule at least `minimumShareLimit`).
 */
export function deactivationLimit(guard: ConnectionSettings['deactivationGuard'], activeBindings: number): number {
  const share = Math.max(minimumShareLimit, Math.floor((activeBindings * guard.maxPercent) / 100));
  return Math.min(guard.maxUsers, share);
}
