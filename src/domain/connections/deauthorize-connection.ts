import { removeAllBindings } from '../provisioning/remove-all-bindings';
import { err, ok, type Result } from '../result';
import type { ConnectionRecord } from './connection';
import { release } from './connection-claims';
import type { ConnectionDeps, ConnectionError } from './connection-deps';
import { transition } from './connection-state';

/**
 * Drops what an authorization left behind, without calling Microsoft 365: the token cache, the
 * tenant and domain claims, and every binding (with its claim and pending password). Safe to run
 * again after a crash halfway.
 */
export async function removeAuthorization(deps: Pick<ConnectionDeps, 'store' | 'secrets' | 'identity'>, connection: ConnectionRecord): Promise<number> {
  await deps.identity.forget(connection.id);
  if (connection.tenantId !== undefined) await release(deps, 'tenant', connection.tenantId, connection.id);
  for (const domain of connection.domains) await release(deps, 'domain', domain, connection.id);
  // Bindings go with their one-connection claims and any pending password secrets.
  const removed = await removeAllBindings(deps, connection.id);
  return removed.users;
}

export interface DeauthorizationResult {
  readonly status: 'deauthorized';
  /** User bindings removed (group bindings are removed too, and not counted). */
  readonly unboundUsers: number;
}

/**
 * De-authorizes a connection: status `deauthorized` first (so workers stop asking for tokens), then
 * tokens, claims and bindings go. Users stay as they are in Microsoft 365 and in the directory, and
 * a later consent starts with no bindings. Repeating it finishes an interrupted run.
 */
export async function deauthorizeConnection(deps: ConnectionDeps, id: string): Promise<Result<DeauthorizationResult, ConnectionError>> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const doc = await deps.store.get<ConnectionRecord>('connections', id, id);
    if (doc === undefined) return err({ code: 'not_found', message: `connection ${id} not found` });
    const next = transition(doc.data.status, 'deauthorized');
    if (!next.ok) return err({ code: 'conflict', message: `connection ${id} is ${doc.data.status}: it has never been authorized` });
    let record = doc.data;
    if (doc.data.status !== 'deauthorized') {
      const now = deps.clock.now().toISOString();
      const { reauthorization: _reauthorization, homeAccountId: _homeAccountId, ...kept } = doc.data;
      record = { ...kept, status: next.value, deauthorizedAt: now, updatedAt: now };
      const replaced = await deps.store.replace('connections', id, id, record, { ifMatch: doc.etag });
      if (!replaced.ok) continue;
    }
    const unboundUsers = await removeAuthorization(deps, record);
    deps.logger.info('connection de-authorized', { connectionId: id, tenantId: record.tenantId, unboundUsers });
    return ok({ status: 'deauthorized', unboundUsers });
  }
  return err({ code: 'conflict', message: `connection ${id} kept changing; try again` });
}
