import { backoffDelayMs, type BackoffPolicy } from '../backoff';
import type { GatewayFailure } from './m365-user-gateway';

/**
 * What a worker does about a failed Graph call, decided once for user and group work alike:
 * - `throttled`: wait until `untilMs` without counting an attempt, and tell the connection's throttle;
 * - `reauthorization`: wait for a Global Administrator's consent, without counting an attempt;
 * - `retry`: count an attempt and try again after backoff (at least `retryAfterMs`);
 * - `permanent`: retrying cannot fix it; `connectionRefused` when Graph refused the connection itself (401/403).
 */
export type FailureResponse =
  | { readonly kind: 'throttled'; readonly untilMs: number }
  | { readonly kind: 'reauthorization'; readonly untilMs: number }
  | { readonly kind: 'retry'; readonly retryAfterMs?: number }
  | { readonly kind: 'permanent'; readonly connectionRefused: boolean };

export interface FailurePolicy {
  readonly nowMs: number;
  /** Reschedules of the message so far: the uncounted waits back off on it. */
  readonly hop: number;
  /** The wait of a 429 without Retry-After. */
  readonly throttleBackoff: BackoffPolicy;
  /** The wait while the connection needs re-consent. */
  readonly reauthorizationBackoff: BackoffPolicy;
}

export function respondToFailure(failure: GatewayFailure, policy: FailurePolicy): FailureResponse {
  switch (failure.kind) {
    case 'transient':
      if (failure.throttled) return { kind: 'throttled', untilMs: policy.nowMs + (failure.retryAfterMs ?? backoffDelayMs(policy.hop, policy.throttleBackoff)) };
      return failure.retryAfterMs === undefined ? { kind: 'retry' } : { kind: 'retry', retryAfterMs: failure.retryAfterMs };
    case 'stop':
      if (failure.reauthorizationRequired) return { kind: 'reauthorization', untilMs: policy.nowMs + backoffDelayMs(policy.hop, policy.reauthorizationBackoff) };
      return { kind: 'permanent', connectionRefused: true };
    case 'not_found':
      // Read a moment ago, so most likely replication lag; a real deletion shows on the next read.
      return { kind: 'retry' };
    case 'permanent':
    case 'exists':
      return { kind: 'permanent', connectionRefused: false };
  }
}
