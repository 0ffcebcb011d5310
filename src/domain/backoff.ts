/** A capped exponential backoff: `firstMs`, doubling per step, never more than `maxMs`. */
export interface BackoffPolicy {
  readonly firstMs: number;
  readonly maxMs: number;
}

/**
 * The wait before retry `step` (0 for the first). With jitter (the default) it varies by ±20 %, so a
 * burst of failures does not retry all at once.
 */
export function backoffDelayMs(step: number, policy: BackoffPolicy, jitter = true): number {
  const base = Math.min(policy.maxMs, policy.firstMs * 2 ** Math.max(0, step));
  return jitter ? Math.round(base * (0.8 + Math.random() * 0.4)) : base;
}
