import type { Result } from '../result';
import type { ConnectionStatus } from './connection-state';

/** Why no token is available for a connection. */
export type TokenFailure =
  /**
   * The grant is gone; the connection is (now) `reauthorization_required`. Work must wait
   * (reschedule), not fail: a Global Administrator's re-consent resumes it.
   */
  | { readonly code: 'reauthorization_required'; readonly reason: string; readonly message: string }
  /** The token endpoint failed in a way that may pass: retry later; no status changed. */
  | { readonly code: 'transient'; readonly message: string }
  /** The connection does not exist, or holds no authorization (pending consent, de-authorized): drop the work. */
  | { readonly code: 'not_connected'; readonly status: ConnectionStatus | 'missing'; readonly message: string };

/** Delegated Graph access tokens for a connection, for workers and the Graph client. */
export interface TokenProvider {
  /** `forceRefresh` skips cached access tokens (after Graph answered 401 to one). */
  getAccessToken(connectionId: string, options?: { readonly forceRefresh?: boolean }): Promise<Result<string, TokenFailure>>;
}
