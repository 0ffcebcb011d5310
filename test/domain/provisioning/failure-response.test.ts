import { respondToFailure, type FailurePolicy } from '../../../src/domain/provisioning/failure-response';

const policy: FailurePolicy = { nowMs: 1_000_000, hop: 2, throttleBackoff: { firstMs: 1_000, maxMs: 60_000 }, reauthorizationBackoff: { firstMs: 5_000, maxMs: 60_000 } };

describe('respondToFailure', () => {
  it("waits out a 429 for its Retry-After, or the throttle backoff at the message's hop, without counting it", () => {
    expect(respondToFailure({ kind: 'transient', code: 'TooManyRequests', message: 'throttled', throttled: true, retryAfterMs: 7_000 }, policy)).toEqual({ kind: 'throttled', untilMs: 1_007_000 });
    const backedOff = respondToFailure({ kind: 'transient', code: 'TooManyRequests', message: 'throttled', throttled: true }, policy);
    expect(backedOff.kind).toBe('throttled');
    const waitMs = (backedOff as { untilMs: number }).untilMs - policy.nowMs;
    expect(waitMs).toBeGreaterThanOrEqual(4_000 * 0.8);
    expect(waitMs).toBeLessThanOrEqual(4_000 * 1.2);
  });

  it('counts other transient failures and a 404 just after a read (replication lag) as a retry', () => {
    expect(respondToFailure({ kind: 'transient', code: 'serviceNotAvailable', message: '503', throttled: false, retryAfterMs: 3_000 }, policy)).toEqual({ kind: 'retry', retryAfterMs: 3_000 });
    expect(respondToFailure({ kind: 'transient', code: 'ECONNRESET', message: 'reset', throttled: false }, policy)).toEqual({ kind: 'retry' });
    expect(respondToFailure({ kind: 'not_found', code: 'Request_ResourceNotFound', message: 'gone' }, policy)).toEqual({ kind: 'retry' });
  });

  it('waits for re-consent without counting, and treats a refused connection, a bad request and a conflict as permanent', () => {
    const waiting = respondToFailure({ kind: 'stop', code: 'invalid_grant', message: 'AADSTS700082', reauthorizationRequired: true }, policy);
    expect(waiting.kind).toBe('reauthorization');
    expect((waiting as { untilMs: number }).untilMs - policy.nowMs).toBeGreaterThanOrEqual(20_000 * 0.8);
    expect(respondToFailure({ kind: 'stop', code: 'Authorization_RequestDenied', message: '403', reauthorizationRequired: false }, policy)).toEqual({ kind: 'permanent', connectionRefused: true });
    expect(respondToFailure({ kind: 'permanent', code: 'Request_BadRequest', message: '400' }, policy)).toEqual({ kind: 'permanent', connectionRefused: false });
    expect(respondToFailure({ kind: 'exists', code: 'ObjectConflict', message: 'exists' }, policy)).toEqual({ kind: 'permanent', connectionRefused: false });
  });
});
