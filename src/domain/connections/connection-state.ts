import { err, ok, type Result } from '../result';

export const connectionStatuses = ['pending_consent', 'active', 'reauthorization_required', 'sync_paused', 'deauthorized'] as const;
export type ConnectionStatus = (typeof connectionStatuses)[number];

/** What can happen to a connection. */
export type ConnectionEvent =
  /** A Global Administrator consented (first consent, renewal or re-consent). */
  | 'consent_granted'
  /** The token endpoint refused the connection's grant (`invalid_grant` family). */
  | 'authorization_failed'
  /** The deactivation guard stopped a synchronization run. */
  | 'sync_paused'
  /** An admin confirmed the paused run. */
  | 'sync_resumed'
  /** An admin removed the authorization. */
  | 'deauthorized';

/** A transition the state machine refuses; `from` and `event` say which. */
export interface TransitionRefusal {
  readonly code: 'invalid_transition';
  readonly from: ConnectionStatus;
  readonly event: ConnectionEvent;
  readonly message: string;
}

type Table = Readonly<Record<ConnectionEvent, Partial<Readonly<Record<ConnectionStatus, ConnectionStatus>>>>>;

// Every allowed (status, event) pair; anything missing is refused. Repeating an event in the state it
// leads to is allowed where a retry must be harmless (a redelivered failure, a second de-authorization).
const transitions: Table = {
  consent_granted: {
    pending_consent: 'active',
    active: 'active',
    reauthorization_required: 'active',
    deauthorized: 'active',
    // A renewed consent does not confirm a paused run: that stays the admin's explicit decision.
    sync_paused: 'sync_paused',
  },
  authorization_failed: {
    active: 'reauthorization_required',
    sync_paused: 'reauthorization_required',
    reauthorization_required: 'reauthorization_required',
  },
  sync_paused: {
    active: 'sync_paused',
    sync_paused: 'sync_paused',
  },
  sync_resumed: {
    sync_paused: 'active',
  },
  deauthorized: {
    active: 'deauthorized',
    sync_paused: 'deauthorized',
    reauthorization_required: 'deauthorized',
    deauthorized: 'deauthorized',
  },
};

const refusalReasons: Readonly<Record<ConnectionEvent, string>> = {
  consent_granted: 'consent cannot be recorded',
  authorization_failed: 'the connection holds no authorization that could fail',
  sync_paused: 'only an active connection can be paused',
  sync_resumed: 'only a paused connection can be resumed',
  deauthorized: 'the connection has never been authorized',
};

/** The status after `event`, or a refusal when the event makes no sense in `from`. */
export function transition(from: ConnectionStatus, event: ConnectionEvent): Result<ConnectionStatus, TransitionRefusal> {
  const to = transitions[event][from];
  if (to !== undefined) return ok(to);
  return err({ code: 'invalid_transition', from, event, message: `a ${from} connection cannot be ${event.replace('_', ' ')}: ${refusalReasons[event]}` });
}

/**
 * Whether the connection may be deleted. A connection that holds a working authorization must be
 * de-authorized first, so deleting never silently drops live bindings.
 */
export function canDelete(status: ConnectionStatus): boolean {
  return status !== 'active' && status !== 'sync_paused';
}

/** Whether the connection holds a working authorization, so tokens may be issued for it. */
export function holdsAuthorization(status: ConnectionStatus): boolean {
  return status === 'active' || status === 'sync_paused';
}
