import type { DocumentStore } from '../ports/document-store';
import type { ConnectionRecord } from './connection';
import { activityState, type ActivityRecord, type ActivityState, type ConnectionActivity } from './connection-activity';
import type { ConnectionStatus } from './connection-state';

/** The recorded facts about one kind of a connection's activity, as health shows them. */
export interface ActivityHealth {
  readonly state: ActivityState;
  readonly lastSuccessAt?: string;
  readonly lastFailureAt?: string;
  readonly lastFailure?: { readonly code: string; readonly message: string };
}

/** One connection in the health report. */
export interface ConnectionHealth {
  readonly id: string;
  readonly name: string;
  readonly tenantId?: string;
  readonly status: ConnectionStatus;
  /** Why a Global Administrator must consent again, when the status is `reauthorization_required`. */
  readonly reauthorization?: { readonly code: string; readonly since: string };
  readonly graph: ActivityHealth;
  readonly tokenRefresh: ActivityHealth;
}

export interface ConnectionsHealth {
  /** Connections that hold an authorization (active, sync_paused) or lost it (reauthorization_required). */
  readonly total: number;
  readonly reauthorizationRequired: number;
  /** Among `items`: connections whose last Graph call or last token refresh failed. */
  readonly failing: number;
  /** The first `limit` connections by name. */
  readonly items: readonly ConnectionHealth[];
}

const reported: readonly ConnectionStatus[] = ['active', 'sync_paused', 'reauthorization_required'];

function activityHealth(record: ActivityRecord | undefined): ActivityHealth {
  return {
    state: activityState(record),
    ...(record?.lastSuccessAt === undefined ? {} : { lastSuccessAt: record.lastSuccessAt }),
    ...(record?.lastFailureAt === undefined ? {} : { lastFailureAt: record.lastFailureAt }),
    ...(record?.lastFailure === undefined ? {} : { lastFailure: record.lastFailure }),
  };
}

/**
 * Each connection's status with its last successful Graph call and token refresh, from what the
 * Graph client and the token provider recorded: health reads recorded facts and calls neither
 * Graph nor the authority, so probing it costs the tenants nothing.
 */
export async function connectionsHealth(store: DocumentStore, activity: Pick<ConnectionActivity, 'read'>, limit = 200): Promise<ConnectionsHealth> {
  const where = [{ field: 'status', op: 'in', values: reported }] as const;
  const [total, reauthorizationRequired, page] = await Promise.all([
    store.count('connections', { where }),
    store.count('connections', { where: [{ field: 'status', op: 'eq', value: 'reauthorization_required' }] }),
    store.query<ConnectionRecord>('connections', { where, orderBy: { field: 'name', direction: 'asc' }, limit }),
  ]);
  const records = await activity.read(page.items.map((doc) => doc.id));
  const items = page.items.map(({ data }): ConnectionHealth => {
    const recorded = records.get(data.id);
    return {
      id: data.id,
      name: data.name,
      ...(data.tenantId === undefined ? {} : { tenantId: data.tenantId }),
      status: data.status,
      ...(data.status === 'reauthorization_required' ? { reauthorization: { code: data.reauthorization?.code ?? 'unknown', since: data.reauthorization?.at ?? data.updatedAt } } : {}),
      graph: activityHealth(recorded?.graph),
      tokenRefresh: activityHealth(recorded?.tokenRefresh),
    };
  });
  const failing = items.filter((item) => item.graph.state === 'failing' || item.tokenRefresh.state === 'failing').length;
  return { total, reauthorizationRequired, failing, items };
}
