import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { ConnectionRecord } from './connection';

/**
 * Delegated permissions licence management needs beyond what connections consented before it
 * existed (README, "Microsoft Graph permissions"): reading the tenant's subscribed SKUs.
 * `assignLicense` itself is covered by `User.ReadWrite.All`.
 */
export const licensingPermissions = ['Organization.Read.All'] as const;

export interface ConsentUpgradeDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Notes on the connection that its consent lacks `permissions` (Graph answered 403). The status
 * stays as it is: only the feature needing them waits for a Global Administrator's new consent,
 * which clears the note. Returns whether the note was added.
 */
export async function markConsentUpgradeRequired(deps: ConsentUpgradeDeps, connectionId: string, permissions: readonly string[], reason: string): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const doc = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
    if (doc === undefined || doc.data.consentUpgrade !== undefined) return false;
    const now = deps.clock.now().toISOString();
    const record: ConnectionRecord = { ...doc.data, consentUpgrade: { permissions, reason, at: now }, updatedAt: now };
    const replaced = await deps.store.replace('connections', connectionId, connectionId, record, { ifMatch: doc.etag });
    if (replaced.ok) {
      deps.logger.warn('connection needs a new consent for permissions a feature needs; everything else keeps working', { connectionId, permissions, reason });
      return true;
    }
    if (replaced.error === 'not_found') return false;
  }
  throw new Error(`connection ${connectionId} kept changing while noting a consent upgrade`);
}
