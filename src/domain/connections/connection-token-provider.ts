import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { Metrics } from '../ports/metrics';
import { err, ok } from '../result';
import type { ConnectionRecord } from './connection';
import { holdsAuthorization } from './connection-state';
import type { IdentityPlatform } from './identity-platform';
import { markReauthorizationRequired } from './reauthorization';
import type { TokenProvider } from './token-provider';

export interface ConnectionTokenProviderDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly identity: IdentityPlatform;
  /** Counts failed refreshes; absent, nothing is counted. */
  readonly metrics?: Metrics;
}

/**
 * Tokens for a connection from its cached grant. The connection's status is read on every call
 * (a point read) so a de-authorization elsewhere stops work at once; a refused grant moves the
 * connection to `reauthorization_required`, a transient failure changes nothing.
 */
export function createConnectionTokenProvider(deps: ConnectionTokenProviderDeps): TokenProvider {
  return {
    async getAccessToken(connectionId, options = {}) {
      const doc = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
      if (doc === undefined) return err({ code: 'not_connected', status: 'missing', message: `connection ${connectionId} does not exist` });
      const connection = doc.data;
      if (connection.status === 'reauthorization_required') {
        const code = connection.reauthorization?.code ?? 'unknown';
        return err({ code: 'reauthorization_required', reason: code, message: `connection ${connectionId} waits for a Global Administrator to consent again (${code})` });
      }
      if (!holdsAuthorization(connection.status)) {
        return err({ code: 'not_connected', status: connection.status, message: `connection ${connectionId} is ${connection.status}` });
      }
      let failure: { code: string; message: string };
      if (connection.tenantId === undefined || connection.homeAccountId === undefined) {
        failure = { code: 'token_cache_missing', message: 'the connection records no consenting account' };
      } else {
        const token = await deps.identity.acquireToken({ connectionId, tenantId: connection.tenantId, homeAccountId: connection.homeAccountId }, options);
        if (token.ok) return ok(token.value);
        deps.metrics?.tokenRefreshFailed(connectionId, token.error.kind === 'transient' ? 'transient' : token.error.code);
        if (token.error.kind === 'transient') {
          deps.logger.warn('token endpoint failed; the work will be retried', { connectionId, error: token.error.message });
          return err({ code: 'transient', message: token.error.message });
        }
        failure = { code: token.error.code, message: token.error.message };
      }
      await markReauthorizationRequired(deps, connectionId, { ...failure, consentedAt: connection.consentedAt });
      return err({ code: 'reauthorization_required', reason: failure.code, message: `connection ${connectionId} needs a Global Administrator to consent again: ${failure.message}` });
    },
  };
}
