import type { DeltaUser, M365UsersDelta, UsersDeltaFailure, UsersDeltaPage, UsersDeltaStart } from '../../domain/reconcile/m365-users-delta';
import { err, ok, type Result } from '../../domain/result';
import type { GraphClient } from './graph-client';
import { translateGraphError, type GraphRequestError } from './graph-error-translator';

interface RawDeltaPage {
  readonly value?: readonly (Record<string, unknown> & { readonly id?: unknown })[];
  readonly '@odata.nextLink'?: string;
  readonly '@odata.deltaLink'?: string;
}

function toFailure(error: GraphRequestError, fromLink: boolean): UsersDeltaFailure {
  switch (error.code) {
    case 'delta_expired':
      return { code: 'resync_required', message: error.message };
    case 'bad_request':
      // Graph answers a link it no longer understands with 400; a new round is the documented way out.
      return fromLink ? { code: 'resync_required', message: error.message } : { code: 'refused', message: error.message };
    case 'transient':
      return { code: 'transient', message: error.message, ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }) };
    case 'reauthorization_required':
      return { code: 'reauthorization_required', message: error.message };
    case 'stop':
    case 'not_connected':
    case 'not_found':
    case 'exists':
      return { code: 'refused', message: error.message };
  }
}

/**
 * `users/delta` on Microsoft Graph. Links are followed only on GRAPH_BASE_URL, so a link read back
 * from the store never sends the connection's token anywhere else.
 */
export function createGraphUsersDelta(clientFor: (connectionId: string) => GraphClient, graphBaseUrl: string): M365UsersDelta {
  return {
    async page(connectionId: string, from: UsersDeltaStart): Promise<Result<UsersDeltaPage, UsersDeltaFailure>> {
      if (from.kind === 'link' && !from.link.startsWith(`${graphBaseUrl}/`)) {
        return err({ code: 'resync_required', message: 'the stored delta link is not on GRAPH_BASE_URL' });
      }
      const path = from.kind === 'full' ? `/users/delta?$select=${from.select.join(',')}` : from.link;
      let raw: RawDeltaPage;
      try {
        raw = await clientFor(connectionId).get<RawDeltaPage>(path);
      } catch (error) {
        return err(toFailure(translateGraphError(error), from.kind === 'link'));
      }
      const changed: DeltaUser[] = [];
      const removed: string[] = [];
      for (const item of raw.value ?? []) {
        if (typeof item.id !== 'string') continue;
        if ('@removed' in item) removed.push(item.id);
        else changed.push(item as DeltaUser);
      }
      const nextLink = raw['@odata.nextLink'];
      const deltaLink = raw['@odata.deltaLink'];
      if (nextLink !== undefined) return ok({ changed, removed, next: { kind: 'next', link: nextLink } });
      if (deltaLink !== undefined) return ok({ changed, removed, next: { kind: 'done', deltaLink } });
      return err({ code: 'transient', message: 'Graph answered a users/delta page with neither a nextLink nor a deltaLink' });
    },
  };
}
