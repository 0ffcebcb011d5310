import { randomUUID } from 'node:crypto';
import { err, ok, type Result } from '../result';
import { applySettingsPatch, toConnectionView, type ConnectionRecord, type ConnectionSettings, type ConnectionSettingsPatch, type ConnectionView } from './connection';
import { claimDomains, claimHolder, release } from './connection-claims';
import type { ConnectionDeps, ConnectionError } from './connection-deps';
import { canDelete, holdsAuthorization, type ConnectionStatus } from './connection-state';
import { startConsent, type ConsentLink } from './consent';
import { removeAuthorization } from './deauthorize-connection';
import { selectDomains } from './tenant-rules';

function notFound(id: string): { readonly ok: false; readonly error: ConnectionError } {
  return err({ code: 'not_found', message: `connection ${id} not found` });
}

/** The first of `domains` another connection holds, with its holder. */
async function firstHeldElsewhere(deps: ConnectionDeps, domains: readonly string[], connectionId: string | undefined): Promise<{ domain: string; holder: string } | undefined> {
  for (const domain of domains) {
    const holder = await claimHolder(deps, 'domain', domain);
    if (holder !== undefined && holder !== connectionId) return { domain, holder };
  }
  return undefined;
}

/** Creates a connection in `pending_consent` and its first consent URL. */
export async function createConnection(
  deps: ConnectionDeps,
  input: { readonly name: string; readonly domains: readonly string[]; readonly settings: ConnectionSettings },
): Promise<Result<ConnectionView & ConsentLink, ConnectionError>> {
  // Claims are made at consent, when the tenant can vouch for the domains; refusing a domain that is
  // already taken here saves the admin a consent that could only fail.
  const taken = await firstHeldElsewhere(deps, input.domains, undefined);
  if (taken !== undefined) return err({ code: 'conflict', field: 'domains', message: `the domain ${taken.domain} is already claimed by connection ${taken.holder}` });
  const id = randomUUID();
  const now = deps.clock.now().toISOString();
  const record: ConnectionRecord = { id, name: input.name, status: 'pending_consent', domains: [...input.domains].sort(), settings: input.settings, createdAt: now, updatedAt: now };
  const created = await deps.store.create('connections', id, id, record);
  if (!created.ok) throw new Error('connection id collision');
  const link = await startConsent(deps, id);
  if (!link.ok) throw new Error(`connection ${id} vanished while its consent URL was made`);
  deps.logger.info('connection created', { connectionId: id });
  return ok({ ...toConnectionView(record), ...link.value });
}

export async function getConnection(deps: Pick<ConnectionDeps, 'store'>, id: string): Promise<Result<ConnectionView, ConnectionError>> {
  const doc = await deps.store.get<ConnectionRecord>('connections', id, id);
  return doc === undefined ? notFound(id) : ok(toConnectionView(doc.data));
}

export async function listConnections(
  deps: Pick<ConnectionDeps, 'store'>,
  page: { readonly limit: number; readonly cursor?: string; readonly status?: ConnectionStatus },
): Promise<{ items: ConnectionView[]; nextCursor?: string }> {
  const result = await deps.store.query<ConnectionRecord>('connections', {
    ...(page.status === undefined ? {} : { where: [{ field: 'status', op: 'eq', value: page.status }] }),
    orderBy: { field: 'createdAt', direction: 'asc' },
    limit: page.limit,
    ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
  });
  return { items: result.items.map((doc) => toConnectionView(doc.data)), ...(result.nextCursor === undefined ? {} : { nextCursor: result.nextCursor }) };
}

export interface ConnectionPatch {
  readonly name?: string;
  readonly domains?: readonly string[];
  readonly settings?: ConnectionSettingsPatch;
}

/**
 * Edits name, settings and domains. On a connection that holds claims (it has been consented and
 * not de-authorized), new domains must be verified and managed in the tenant (read through Graph)
 * and free; they are claimed and the dropped ones released. Otherwise the domains are only
 * requested, and checked at consent.
 */
export async function updateConnection(deps: ConnectionDeps, id: string, patch: ConnectionPatch): Promise<Result<ConnectionView, ConnectionError>> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const doc = await deps.store.get<ConnectionRecord>('connections', id, id);
    if (doc === undefined) return notFound(id);
    const current = doc.data;
    const domains = patch.domains === undefined ? current.domains : [...patch.domains].sort();
    const domainsChanged = domains.join(',') !== [...current.domains].sort().join(',');
    const holdsClaims = current.tenantId !== undefined && current.status !== 'deauthorized';
    let created: string[] = [];
    let dropped: string[] = [];
    if (domainsChanged) {
      const taken = await firstHeldElsewhere(deps, domains, id);
      if (taken !== undefined) return err({ code: 'conflict', field: 'domains', message: `the domain ${taken.domain} is already claimed by connection ${taken.holder}` });
      if (holdsClaims) {
        if (!holdsAuthorization(current.status)) {
          return err({ code: 'unprocessable', field: 'domains', message: `the domains of a ${current.status} connection cannot be verified; a Global Administrator must consent again first` });
        }
        if (domains.length === 0) return err({ code: 'unprocessable', field: 'domains', message: 'a consented connection must claim at least one domain' });
        const tenantDomains = await deps.tenants.readDomains(id);
        if (!tenantDomains.ok) {
          return err({ code: tenantDomains.error.code === 'unavailable' ? 'unavailable' : 'unprocessable', message: `the tenant's domains could not be read: ${tenantDomains.error.message}` });
        }
        const selected = selectDomains(domains, tenantDomains.value, new Set());
        if (!selected.ok) {
          const refusal = selected.error;
          const message =
            refusal.code === 'domain_not_managed'
              ? `the domain ${refusal.domain} is federated; only managed domains can be connected`
              : refusal.code === 'domain_not_verified'
                ? `the domain ${refusal.domain} is not a verified domain of ${current.tenantName ?? 'the tenant'}`
                : 'no domain to claim';
          return err({ code: 'unprocessable', field: 'domains', message });
        }
        const claimed = await claimDomains(deps, domains, id);
        if (!claimed.ok) return err({ code: 'conflict', field: 'domains', message: `the domain ${claimed.error.domain} is already claimed by connection ${claimed.error.holder}` });
        created = claimed.value;
        dropped = current.domains.filter((d) => !domains.includes(d));
      }
    }
    const record: ConnectionRecord = {
      ...current,
      name: patch.name ?? current.name,
      domains,
      settings: patch.settings === undefined ? current.settings : applySettingsPatch(current.settings, patch.settings),
      updatedAt: deps.clock.now().toISOString(),
    };
    const replaced = await deps.store.replace('connections', id, id, record, { ifMatch: doc.etag });
    if (replaced.ok) {
      for (const domain of dropped) await release(deps, 'domain', domain, id);
      return ok(toConnectionView(record));
    }
    for (const domain of created) await release(deps, 'domain', domain, id);
    if (replaced.error === 'not_found') return notFound(id);
  }
  return err({ code: 'conflict', message: `connection ${id} kept changing; try again` });
}

/** Deletes a connection that holds no working authorization, with its claims, tokens and bindings. */
export async function deleteConnection(deps: ConnectionDeps, id: string): Promise<Result<void, ConnectionError>> {
  const doc = await deps.store.get<ConnectionRecord>('connections', id, id);
  if (doc === undefined) return notFound(id);
  if (!canDelete(doc.data.status)) {
    return err({ code: 'conflict', message: `connection ${id} is ${doc.data.status}; de-authorize it (DELETE /api/connections/${id}/authorization) before deleting it` });
  }
  const deleted = await deps.store.delete('connections', id, id, { ifMatch: doc.etag });
  if (!deleted.ok) return deleted.error === 'not_found' ? notFound(id) : err({ code: 'conflict', message: `connection ${id} changed meanwhile; try again` });
  await removeAuthorization(deps, doc.data);
  deps.logger.info('connection deleted', { connectionId: id });
  return ok(undefined);
}
