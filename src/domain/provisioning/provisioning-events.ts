import { createHash } from 'node:crypto';
import type { Condition, DocumentStore } from '../ports/document-store';
import type { Metrics } from '../ports/metrics';
import { withNames, type Named } from '../directory/directory-names';

/** Success events (DESIGN.md point 13); failures show on the binding and in logs instead. */
export const provisioningEventTypes = [
  'user_create_provision',
  'user_update_provision',
  'user_password_update_provision',
  'user_deprovision',
  'user_delete_provision',
  'user_license_provision',
  'group_create_provision',
  'group_update_provision',
  'group_membership_provision',
] as const;

export type ProvisioningEventType = (typeof provisioningEventTypes)[number];

/** An event as stored (container `events`, pk = connection id) and shown: names, never values. */
export interface ProvisioningEvent {
  readonly id: string;
  readonly type: ProvisioningEventType;
  readonly connectionId: string;
  readonly userId?: string;
  readonly groupId?: string;
  readonly m365UserId?: string;
  readonly m365GroupId?: string;
  readonly changedAttributes: readonly string[];
  /** For `group_membership_provision`: members added to and removed from the Microsoft 365 group. */
  readonly addedMembers?: number;
  readonly removedMembers?: number;
  /** For `user_deprovision`: the account's sign-in sessions were revoked with it. */
  readonly sessionsRevoked?: boolean;
  /** For `user_create_provision`: the account deleted after its grace period was restored, same object id. */
  readonly restored?: boolean;
  /** For `user_license_provision`: SKU part numbers added to and removed from the account. */
  readonly addedLicenses?: readonly string[];
  readonly removedLicenses?: readonly string[];
  readonly at: string;
}

/**
 * The id of the event of one effective change: the same change always yields the same id, so
 * recording it twice (a redelivery, a crash before the binding was written) finds it recorded.
 * `version` names the change within the binding `incarnation`.
 */
export function provisioningEventId(connectionId: string, subjectId: string, type: ProvisioningEventType, incarnation: string, version: string): string {
  return createHash('sha256').update([connectionId, subjectId, type, incarnation, version].join('\n')).digest('base64url').slice(0, 32);
}

/** Records an event once, and counts it: `false` when an event with this id was already recorded. */
export async function recordEvent(deps: { readonly store: DocumentStore; readonly metrics?: Metrics }, event: ProvisioningEvent): Promise<boolean> {
  const created = await deps.store.create<ProvisioningEvent>('events', event.connectionId, event.id, event);
  if (created.ok) deps.metrics?.provisioningEvent(event.type, event.connectionId);
  return created.ok;
}

export interface EventQuery {
  readonly connectionId?: string;
  readonly userId?: string;
  readonly type?: ProvisioningEventType;
  /** ISO instants, inclusive. */
  readonly since?: string;
  readonly until?: string;
  readonly limit: number;
  readonly cursor?: string;
}

/**
 * Events newest first, with cursor paging; across connections when none is given. Each names its
 * user or group as the directory holds them now (not as they were: events store ids only).
 */
export async function listEvents(deps: { readonly store: DocumentStore }, query: EventQuery): Promise<{ items: Named<ProvisioningEvent>[]; nextCursor?: string }> {
  const where: Condition[] = [];
  if (query.userId !== undefined) where.push({ field: 'userId', op: 'eq', value: query.userId });
  if (query.type !== undefined) where.push({ field: 'type', op: 'eq', value: query.type });
  if (query.since !== undefined) where.push({ field: 'at', op: 'ge', value: query.since });
  if (query.until !== undefined) where.push({ field: 'at', op: 'le', value: query.until });
  const page = await deps.store.query<ProvisioningEvent>('events', {
    ...(query.connectionId === undefined ? {} : { pk: query.connectionId }),
    where,
    orderBy: { field: 'at', direction: 'desc' },
    limit: query.limit,
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
  return { items: await withNames(deps.store, page.items.map((doc) => doc.data)), ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }) };
}
