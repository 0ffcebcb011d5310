import type { GatewayResult, M365UserGateway } from './m365-user-gateway';

/** How many of a connection's latest Graph answers decide whether it is throttled as a whole. */
const recentAnswers = 20;
/** Fewer throttled answers than this never close the connection. */
const minThrottled = 3;

interface ConnectionState {
  /** The latest answers, oldest first: true for a 429. */
  readonly recent: boolean[];
  notBeforeMs: number;
}

/**
 * Per-connection "not before", shared by every worker of this process. A lone 429 makes only its
 * own nudge wait out the Retry-After; once half of a connection's latest answers are 429s, the
 * tenant's budget is spent and every worker of the connection waits until the latest Retry-After,
 * instead of each collecting a 429 of its own.
 */
export class ConnectionThrottle {
  private readonly connections = new Map<string, ConnectionState>();

  private state(connectionId: string): ConnectionState {
    let state = this.connections.get(connectionId);
    if (state === undefined) {
      state = { recent: [], notBeforeMs: 0 };
      this.connections.set(connectionId, state);
    }
    return state;
  }

  private remember(state: ConnectionState, throttled: boolean): void {
    state.recent.push(throttled);
    if (state.recent.length > recentAnswers) state.recent.shift();
  }

  /** The instant (epoch ms) before which no Graph call should be made for the connection, if any. */
  waitUntil(connectionId: string, nowMs: number): number | undefined {
    const until = this.connections.get(connectionId)?.notBeforeMs ?? 0;
    return until > nowMs ? until : undefined;
  }

  /** Graph answered a request of the connection without throttling it. */
  answered(connectionId: string): void {
    this.remember(this.state(connectionId), false);
  }

  /** Makes every worker of the connection wait until `untilMs`, whatever the latest answers were. */
  backOff(connectionId: string, untilMs: number): void {
    const state = this.state(connectionId);
    state.notBeforeMs = Math.max(state.notBeforeMs, untilMs);
  }

  /** Graph throttled a request of the connection until `untilMs`; returns whether the whole connection now waits. */
  throttled(connectionId: string, untilMs: number): boolean {
    const state = this.state(connectionId);
    this.remember(state, true);
    const count = state.recent.filter(Boolean).length;
    if (count < minThrottled || count * 2 < state.recent.length) return false;
    this.backOff(connectionId, untilMs);
    return true;
  }

  /** The connection's gateway, telling this throttle about every answer but 429s (the worker reports those with their Retry-After). */
  observe(connectionId: string, gateway: M365UserGateway): M365UserGateway {
    const note = async <T>(answer: Promise<GatewayResult<T>>): Promise<GatewayResult<T>> => {
      const result = await answer;
      if (result.ok || result.error.kind !== 'transient' || !result.error.throttled) this.answered(connectionId);
      return result;
    };
    return {
      findByUpn: (upn, select) => note(gateway.findByUpn(upn, select)),
      get: (id, select) => note(gateway.get(id, select)),
      create: (user) => note(gateway.create(user)),
      update: (id, patch) => note(gateway.update(id, patch)),
      setManager: (id, managerId) => note(gateway.setManager(id, managerId)),
      revokeSessions: (id) => note(gateway.revokeSessions(id)),
      delete: (id) => note(gateway.delete(id)),
      restore: (id) => note(gateway.restore(id)),
      subscribedSkus: () => note(gateway.subscribedSkus()),
      assignLicenses: (id, add, remove) => note(gateway.assignLicenses(id, add, remove)),
      privilegedRoleHolders: () => note(gateway.privilegedRoleHolders()),
    };
  }
}
