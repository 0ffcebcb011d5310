import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { ConnectionRecord } from './connection';
import { transition } from './connection-state';

export interface ReauthorizationDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Moves the connection to `reauthorization_required` after the authority refused its grant.
 * `consentedAt` is the consent the failing tokens came from: when a newer consent has landed
 * meanwhile, the failure is stale and changes nothing. Returns whether the status changed.
 */
export async function markReauthorizationRequired(deps: ReauthorizationDeps, connectionId: string, failure: { readonly code: string; readonly message: string; readonly consentedAt: string | undefined }): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const doc = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
    if (doc === undefined || doc.data.consentedAt !== failure.consentedAt) return false;
    const next = transition(doc.data.status, 'authorization_failed');
    if (!next.ok || doc.data.status === 'reauthorization_required') return false;
    const now = deps.clock.now().toISOString();
    const record: ConnectionRecord = { ...doc.data, status: next.value, reauthorization: { code: failure.code, reason: failure.message, at: now }, updatedAt: now };
    const replaced = await deps.store.replace('connections', connectionId, connectionId, record, { ifMatch: doc.etag });
    if (replaced.ok) {
      deps.logger.error('connection needs re-authorization by a Global Administrator', { connectionId, tenantId: doc.data.tenantId, code: failure.code, reason: failure.message });
      return true;
    }
    if (replaced.error === 'not_found') return false;
  }
  throw new Error(`connection ${connectionId} kept changing while marking it reauthorization_required`);
}
