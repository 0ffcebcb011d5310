import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { ConnectionRecord } from '../connections/connection';
import { nudgeGroupSync } from '../group-sync/group-sync-nudges';
import type { GroupSyncRecord } from '../group-sync/group-sync-record';
import type { Condition } from '../ports/document-store';
import { isBound, type BindingState, type UserBindingRecord } from '../provisioning/binding';
import { bumpUnchanged, hasOutstandingWork, sendAll } from '../reconcile/binding-nudges';
import type { SubscribedResource } from './change-subscription-gateway';
import { subscriptionsQueue, wantsNotifications, type SubscriptionDeps, type SubscriptionMessage } from './manage-subscriptions';
import { clientStateSecretName, readSubscriptionOwner, type SubscriptionOwner } from './subscription-records';

/** Notifications in one delivery; Graph sends far fewer, a larger body is not Graph's. */
export const maxNotificationsPerDelivery = 1_000;

/**
 * One change notification or lifecycle event (changeNotification resource type). Fields the
 * service does not use are let through unread; anything malformed in one item makes only that
 * item ignored.
 */
const notificationSchema = z.looseObject({
  subscriptionId: z.string().min(1).max(128),
  clientState: z.string().max(256).nullable().optional(),
  changeType: z.string().max(64).optional(),
  resource: z.string().max(512).optional(),
  resourceData: z.looseObject({ id: z.string().max(128).optional() }).nullable().optional(),
  lifecycleEvent: z.string().max(64).optional(),
  tenantId: z.string().max(64).optional(),
});
type Notification = z.output<typeof notificationSchema>;

/** The body of a delivery: `{value: [...]}` (changeNotificationCollection). */
export const notificationCollectionSchema = z.looseObject({ value: z.array(z.unknown()).max(maxNotificationsPerDelivery) });

/** The ports the endpoint needs: subscriptions' (for lifecycle events) and a way to start a delta run. */
export interface NotificationDeps extends SubscriptionDeps {
  /** Starts a delta (reconcile) run of the connection; a run already going is enough. */
  requestDeltaRun(connectionId: string): Promise<void>;
}

/** What one delivery came to, for the log. */
export interface DeliveryReport {
  /** Bound users and groups nudged. */
  readonly nudged: number;
  /** About objects no binding of the connection links to, or with work already outstanding. */
  readonly ignored: number;
  /** Unknown subscription, wrong clientState, malformed item, or a connection that no longer wants them. */
  readonly rejected: number;
  readonly lifecycle: number;
}

/** Bindings compared on a notification: as for the reconcile run, finished work that did not fail. */
const comparableStates: readonly BindingState[] = ['provisioned', 'deprovisioned'];
const ownerCacheMs = 60_000;
const secretCacheMs = 5 * 60_000;
const connectionCacheMs = 5_000;

interface Cached<T> {
  readonly value: T;
  readonly untilMs: number;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Compares two secrets in time that does not depend on where they differ (or on their lengths). */
export function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** `Users/<id>` or `Groups/<id>` (Graph capitalises them in notifications), or resourceData's id. */
function objectIdOf(notification: Notification): string | undefined {
  const fromData = notification.resourceData?.id;
  if (fromData !== undefined) return fromData.toLowerCase();
  const match = /(?:^|\/)(?:users|groups)\/([^/]+)$/i.exec(notification.resource ?? '');
  return match?.[1]?.toLowerCase();
}

/**
 * The `notifications` endpoint's use case: checks each item's subscription and clientState, turns
 * changes of bound users and groups into nudges on the provisioning and group-sync queues (the
 * workers read Graph and correct what drifted), and acts on lifecycle events: renew on
 * `reauthorizationRequired`, recreate (and run delta for the gap) on `subscriptionRemoved`, run
 * delta on `missed`. Look-ups of subscriptions, secrets and connections are cached briefly, so a
 * busy tenant's deliveries cost one store query per delivery and connection.
 */
export class NotificationReceiver {
  private readonly owners = new Map<string, Cached<SubscriptionOwner | undefined>>();
  private readonly clientStates = new Map<string, Cached<string | undefined>>();
  private readonly connections = new Map<string, Cached<ConnectionRecord | undefined>>();

  constructor(private readonly deps: NotificationDeps) {}

  async receive(body: z.output<typeof notificationCollectionSchema>): Promise<DeliveryReport> {
    let rejected = 0;
    let lifecycle = 0;
    const changed = new Map<string, { users: Set<string>; groups: Set<string> }>();
    const lifecycleEvents: { owner: SubscriptionOwner; event: string; subscriptionId: string }[] = [];
    for (const raw of body.value) {
      const parsed = notificationSchema.safeParse(raw);
      if (!parsed.success) {
        rejected += 1;
        continue;
      }
      const notification = parsed.data;
      const owner = await this.ownerOf(notification.subscriptionId);
      if (owner === undefined || !(await this.authentic(owner.connectionId, notification.clientState))) {
        rejected += 1;
        continue;
      }
      if (notification.lifecycleEvent !== undefined) {
        lifecycle += 1;
        lifecycleEvents.push({ owner, event: notification.lifecycleEvent, subscriptionId: notification.subscriptionId });
        continue;
      }
      const objectId = objectIdOf(notification);
      if (objectId === undefined) {
        rejected += 1;
        continue;
      }
      let entry = changed.get(owner.connectionId);
      if (entry === undefined) {
        entry = { users: new Set(), groups: new Set() };
        changed.set(owner.connectionId, entry);
      }
      entry[owner.resource].add(objectId);
    }
    let nudged = 0;
    let ignored = 0;
    for (const [connectionId, { users, groups }] of changed) {
      if (!wantsNotifications(await this.connectionOf(connectionId))) {
        rejected += users.size + groups.size;
        continue;
      }
      const userCount = await this.nudgeUsers(connectionId, [...users]);
      const groupCount = await this.nudgeGroups(connectionId, [...groups]);
      nudged += userCount + groupCount;
      ignored += users.size + groups.size - userCount - groupCount;
    }
    for (const item of lifecycleEvents) await this.onLifecycle(item.owner, item.event, item.subscriptionId);
    return { nudged, ignored, rejected, lifecycle };
  }

  private async nudgeUsers(connectionId: string, accountIds: readonly string[]): Promise<number> {
    if (accountIds.length === 0) return 0;
    const where: Condition[] = [
      { field: 'kind', op: 'eq', value: 'user' },
      { field: 'm365UserId', op: 'in', values: accountIds },
    ];
    const page = await this.deps.store.query<UserBindingRecord>('bindings', { pk: connectionId, where, limit: Math.min(1000, accountIds.length) });
    // Work already outstanding reads the account anyway; a failed binding is retried by the safety net.
    const due = page.items.map((doc) => doc.data).filter((b) => isBound(b.via) && comparableStates.includes(b.state) && !hasOutstandingWork(b));
    return sendAll(this.deps.sender, await bumpUnchanged(this.deps, due, 'notification'));
  }

  private async nudgeGroups(connectionId: string, groupIds: readonly string[]): Promise<number> {
    if (groupIds.length === 0) return 0;
    const where: Condition[] = [
      { field: 'kind', op: 'eq', value: 'm365group' },
      { field: 'm365GroupId', op: 'in', values: groupIds },
    ];
    const page = await this.deps.store.query<GroupSyncRecord>('bindings', { pk: connectionId, where, limit: Math.min(1000, groupIds.length) });
    for (const { data: record } of page.items) await nudgeGroupSync(this.deps, connectionId, record.groupId, 'notification');
    return page.items.length;
  }

  private async onLifecycle(owner: SubscriptionOwner, event: string, subscriptionId: string): Promise<void> {
    const { connectionId, resource } = owner;
    this.deps.logger.info('change notification lifecycle event', { connectionId, resource, subscriptionId, event });
    switch (event) {
      case 'reauthorizationRequired':
        await this.queuePass(connectionId, 'reauthorization_required', { renew: [resource] }, subscriptionId);
        break;
      case 'subscriptionRemoved':
        await this.queuePass(connectionId, 'subscription_removed', { recreate: [resource] }, subscriptionId);
        // Changes made while there was no subscription reach nobody: a delta run finds them.
        await this.deps.requestDeltaRun(connectionId);
        break;
      case 'missed':
        await this.deps.requestDeltaRun(connectionId);
        break;
      default:
        this.deps.logger.warn('unknown lifecycle event ignored', { connectionId, subscriptionId, event: event.slice(0, 64) });
    }
  }

  private async queuePass(connectionId: string, reason: SubscriptionMessage['reason'], what: { renew?: SubscribedResource[]; recreate?: SubscribedResource[] }, subscriptionId: string): Promise<void> {
    const message: SubscriptionMessage = { connectionId, reason, renew: what.renew ?? [], recreate: what.recreate ?? [] };
    // One pass per event and subscription: Graph may deliver the same event twice.
    await this.deps.sender.send(subscriptionsQueue, [{ messageId: `subscriptions:${reason}:${subscriptionId}`, body: message }]);
  }

  private async ownerOf(subscriptionId: string): Promise<SubscriptionOwner | undefined> {
    return this.cached(this.owners, subscriptionId.toLowerCase(), ownerCacheMs, () => readSubscriptionOwner(this.deps.store, subscriptionId));
  }

  private async authentic(connectionId: string, clientState: string | null | undefined): Promise<boolean> {
    if (typeof clientState !== 'string') return false;
    const expected = await this.cached(this.clientStates, connectionId, secretCacheMs, () => this.deps.secrets.get(clientStateSecretName(connectionId)));
    return expected !== undefined && sameSecret(clientState, expected);
  }

  private async connectionOf(connectionId: string): Promise<ConnectionRecord | undefined> {
    return this.cached(this.connections, connectionId, connectionCacheMs, async () => (await this.deps.store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data);
  }

  private async cached<T>(cache: Map<string, Cached<T>>, key: string, forMs: number, load: () => Promise<T>): Promise<T> {
    const nowMs = this.deps.clock.now().getTime();
    const hit = cache.get(key);
    if (hit !== undefined && hit.untilMs > nowMs) return hit.value;
    const value = await load();
    // Misses are kept only briefly: a subscription being created is written before Graph's first delivery, but a cache may be older.
    cache.set(key, { value, untilMs: nowMs + (value === undefined ? Math.min(forMs, 2_000) : forMs) });
    if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
    return value;
  }
}
