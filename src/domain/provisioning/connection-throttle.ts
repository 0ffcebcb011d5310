/**
 * Per-connection "not before" shared by every worker of this process: when Graph throttles one
 * request of a tenant, the others wait out the same Retry-After instead of each collecting a 429.
 */
export class ConnectionThrottle {
  private readonly notBefore = new Map<string, number>();

  /** The instant (epoch ms) before which no Graph call should be made for the connection, if any. */
  waitUntil(connectionId: string, nowMs: number): number | undefined {
    const until = this.notBefore.get(connectionId);
    if (until === undefined) return undefined;
    if (until <= nowMs) {
      this.notBefore.delete(connectionId);
      return undefined;
    }
    return until;
  }

  backOff(connectionId: string, untilMs: number): void {
    const current = this.notBefore.get(connectionId) ?? 0;
    if (untilMs > current) this.notBefore.set(connectionId, untilMs);
  }
}
