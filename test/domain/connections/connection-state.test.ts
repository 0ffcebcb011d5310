import { canDelete, connectionStatuses, holdsAuthorization, transition, type ConnectionEvent, type ConnectionStatus } from '../../../src/domain/connections/connection-state';

// The whole table: every (status, event) pair and where it leads, or `refused`.
const expected: Readonly<Record<ConnectionEvent, Readonly<Record<ConnectionStatus, ConnectionStatus | 'refused'>>>> = {
  consent_granted: { pending_consent: 'active', active: 'active', reauthorization_required: 'active', sync_paused: 'sync_paused', deauthorized: 'active' },
  authorization_failed: { pending_consent: 'refused', active: 'reauthorization_required', reauthorization_required: 'reauthorization_required', sync_paused: 'reauthorization_required', deauthorized: 'refused' },
  sync_paused: { pending_consent: 'refused', active: 'sync_paused', reauthorization_required: 'refused', sync_paused: 'sync_paused', deauthorized: 'refused' },
  sync_resumed: { pending_consent: 'refused', active: 'refused', reauthorization_required: 'refused', sync_paused: 'active', deauthorized: 'refused' },
  deauthorized: { pending_consent: 'refused', active: 'deauthorized', reauthorization_required: 'deauthorized', sync_paused: 'deauthorized', deauthorized: 'deauthorized' },
};

const cases = (Object.keys(expected) as ConnectionEvent[]).flatMap((event) => connectionStatuses.map((from) => [from, event, expected[event][from]] as const));

describe('connection state machine', () => {
  it.each(cases)('%s --%s--> %s', (from, event, to) => {
    const result = transition(from, event);
    if (to === 'refused') {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toMatchObject({ code: 'invalid_transition', from, event });
        expect(result.error.message).toContain(from);
      }
    } else {
      expect(result).toEqual({ ok: true, value: to });
    }
  });

  it('refuses de-authorizing a connection that was never authorized, saying why', () => {
    const result = transition('pending_consent', 'deauthorized');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message).toMatch(/never been authorized/);
  });

  it('allows deleting only a connection without a working authorization', () => {
    expect(connectionStatuses.filter(canDelete)).toEqual(['pending_consent', 'reauthorization_required', 'deauthorized']);
  });

  it('issues tokens only for active and paused connections', () => {
    expect(connectionStatuses.filter(holdsAuthorization)).toEqual(['active', 'sync_paused']);
  });
});
