import type { DocumentStore } from '../ports/document-store';
import type { SecretStore } from '../ports/secret-store';
import { bindingClaimKey, pendingPasswordSecretName, type BindingRecord } from './binding';

export interface RemoveAllBindingsDeps {
  readonly store: DocumentStore;
  readonly secrets: SecretStore;
}

/**
 * Removes every binding of a connection without a single Graph call (de-authorization): user and
 * group binding documents, the users' `binding:<userId>` claims this connection holds, and
 * passwords still waiting to be set. Nudges still queued find no binding and do nothing.
 * Safe to run again. Returns how many users were bound and how many groups.
 */
export async function removeAllBindings(deps: RemoveAllBindingsDeps, connectionId: string): Promise<{ readonly users: number; readonly groups: number }> {
  let users = 0;
  let groups = 0;
  for (;;) {
    // Deleting as we go, so every pass starts from the first remaining page.
    const page = await deps.store.query<BindingRecord>('bindings', { pk: connectionId, limit: 500 });
    if (page.items.length === 0) break;
    for (const doc of page.items) {
      const binding = doc.data;
      if (binding.kind === 'user') {
        const key = bindingClaimKey(binding.userId);
        const claim = await deps.store.get<{ connectionId: string }>('uniques', key, key);
        if (claim !== undefined && claim.data.connectionId === connectionId) await deps.store.delete('uniques', key, key, { ifMatch: claim.etag });
        if (binding.passwordPending) await deps.secrets.delete(pendingPasswordSecretName(binding.userId));
        if (binding.via.direct || binding.via.groups.length > 0) users += 1;
      } else if (binding.kind === 'group') {
        // Group sync records (`m365group:<groupId>`) share the partition and go too, uncounted.
        groups += 1;
      }
      await deps.store.delete('bindings', connectionId, doc.id);
    }
  }
  return { users, groups };
}
