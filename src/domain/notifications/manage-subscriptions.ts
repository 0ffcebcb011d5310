import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ConnectionRecord } from '../connections/connection';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { SecretStore } from '../ports/secret-store';
import type { MessageSender, QueueName } from '../ports/work-queue';
import type { GatewayFailure } from '../provisioning/m365-user-gateway';
import { parseMessage, type MessageSettlement } from '../queue-messages';
import { directoryMaxLifetimeMinutes, subscribedResources, type ChangeSubscriptionGateway, type SubscribedResource } from './change-subscription-gateway';
import {
  clientStateSecretName,
  deleteSubscriptionOwner,
  readConnectionSubscriptions,
  writeConnectionSubscriptions,
  writeSubscriptionOwner,
  type ConnectionSubscriptions,
  type SubscriptionRef,
} from './subscription-records';

/** The queue on which a connection's subscriptions are created, renewed, recreated or removed. */
export const subscriptionsQueue: QueueName = 'subscriptions';

/** Subscriptions are renewed once less than this is left of their lifetime (the timer checks every minute). */
export const renewWithinMs = 7 * 24 * 60 * 60_000;
/** Asked for a little under the maximum, so a clock a minute ahead of Graph's is not refused. */
const lifetimeMs = (directoryMaxLifetimeMinutes - 5) * 60_000;
const changeType = 'updated,deleted';
const timerSendBatch = 100;

export interface SubscriptionDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sender: MessageSender;
  readonly secrets: SecretStore;
  readonly gateway: ChangeSubscriptionGateway;
  /** `${PUBLIC_BASE_URL}/api/notifications`: where Graph delivers changes and lifecycle events. */
  readonly notificationUrl: string;
  /** False when Graph cannot reach that URL (Microsoft requires HTTPS): then no connection subscribes. */
  readonly deliverable: boolean;
}

/** Why a connection's subscriptions are looked at; `renew` and `recreate` name the resources concerned. */
export const subscriptionMessageSchema = z.strictObject({
  connectionId: z.string().min(1).max(128),
  reason: z.enum(['timer', 'reauthorization_required', 'subscription_removed']),
  renew: z.array(z.enum(subscribedResources)).max(2).default([]),
  recreate: z.array(z.enum(subscribedResources)).max(2).default([]),
});
export type SubscriptionMessage = z.output<typeof subscriptionMessageSchema>;

/** What one pass did for each resource. */
export type SubscriptionAction = 'created' | 'renewed' | 'kept' | 'removed' | 'none' | `failed:${string}`;
export interface SubscriptionReport {
  readonly connectionId: string;
  readonly enabled: boolean;
  readonly users: SubscriptionAction;
  readonly groups: SubscriptionAction;
}

/** Whether a connection should have subscriptions: it is connected and has not turned them off. */
export function wantsNotifications(connection: ConnectionRecord | undefined): boolean {
  return connection !== undefined && (connection.status === 'active' || connection.status === 'sync_paused') && connection.settings.changeNotifications !== false;
}

/** The connection's clientState, created (32 random bytes) on first use. Never logged or stored outside the secret store. */
export async function clientStateOf(secrets: SecretStore, connectionId: string): Promise<string> {
  const name = clientStateSecretName(connectionId);
  const existing = await secrets.get(name);
  if (existing !== undefined) return existing;
  const created = randomBytes(32).toString('base64url');
  await secrets.set(name, created);
  return created;
}

/**
 * Brings one connection's subscriptions in step: a connected connection with notifications on has
 * one live subscription on `/users` and one on `/groups` (created, renewed when less than
 * `renewWithinMs` is left or when asked, created again when Graph lost it); any other has none.
 * Graph failures are logged and left to the next pass (the timer runs every minute).
 */
export async function syncSubscriptions(deps: SubscriptionDeps, connectionId: string, asked: { readonly renew?: readonly SubscribedResource[]; readonly recreate?: readonly SubscribedResource[] } = {}): Promise<SubscriptionReport> {
  const connection = (await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
  const enabled = deps.deliverable && wantsNotifications(connection);
  const current = (await readConnectionSubscriptions(deps.store, connectionId)) ?? { connectionId, updatedAt: deps.clock.now().toISOString() };
  let record: ConnectionSubscriptions = current;
  const actions: Record<SubscribedResource, SubscriptionAction> = { users: 'none', groups: 'none' };
  for (const resource of subscribedResources) {
    const ref = record[resource];
    const outcome = enabled ? await ensureOne(deps, connectionId, resource, ref, asked) : await removeOne(deps, connectionId, ref);
    actions[resource] = outcome.action;
    if (outcome.ref !== ref) {
      const { [resource]: _dropped, ...rest } = record;
      record = { ...rest, ...(outcome.ref === undefined ? {} : { [resource]: outcome.ref }), updatedAt: deps.clock.now().toISOString() };
    }
  }
  if (record !== current) await writeConnectionSubscriptions(deps.store, record);
  const report = { connectionId, enabled, ...actions };
  if (actions.users !== 'kept' && actions.users !== 'none') deps.logger.info('change notification subscriptions brought in step', report);
  return report;
}

async function ensureOne(deps: SubscriptionDeps, connectionId: string, resource: SubscribedResource, ref: SubscriptionRef | undefined, asked: { renew?: readonly SubscribedResource[]; recreate?: readonly SubscribedResource[] }): Promise<{ action: SubscriptionAction; ref: SubscriptionRef | undefined }> {
  const nowMs = deps.clock.now().getTime();
  const expiration = new Date(nowMs + lifetimeMs).toISOString();
  const recreate = asked.recreate?.includes(resource) === true || ref === undefined || Date.parse(ref.expiresAt) <= nowMs;
  if (!recreate && ref !== undefined) {
    if (asked.renew?.includes(resource) !== true && Date.parse(ref.expiresAt) - nowMs > renewWithinMs) return { action: 'kept', ref };
    const renewed = await deps.gateway.renew(connectionId, ref.id, expiration);
    if (renewed.ok) return { action: 'renewed', ref: { id: ref.id, expiresAt: renewed.value.expirationDateTime } };
    if (renewed.error.kind !== 'not_found') return failed(deps, connectionId, resource, 'renew', renewed.error, ref);
  }
  if (ref !== undefined) await deps.gateway.remove(connectionId, ref.id);
  const created = await deps.gateway.create(connectionId, {
    resource,
    changeType,
    notificationUrl: deps.notificationUrl,
    lifecycleNotificationUrl: deps.notificationUrl,
    clientState: await clientStateOf(deps.secrets, connectionId),
    expirationDateTime: expiration,
  });
  if (!created.ok) return failed(deps, connectionId, resource, 'create', created.error, undefined);
  // The owner first: a notification may arrive before this pass writes the connection's record.
  await writeSubscriptionOwner(deps.store, created.value.id, { connectionId, resource });
  if (ref !== undefined) await deleteSubscriptionOwner(deps.store, ref.id);
  return { action: 'created', ref: { id: created.value.id, expiresAt: created.value.expirationDateTime } };
}

async function removeOne(deps: SubscriptionDeps, connectionId: string, ref: SubscriptionRef | undefined): Promise<{ action: SubscriptionAction; ref: SubscriptionRef | undefined }> {
  if (ref === undefined) return { action: 'none', ref };
  const removed = await deps.gateway.remove(connectionId, ref.id);
  // A connection whose grant is gone cannot delete; its subscriptions expire on their own and their notifications are ignored.
  if (!removed.ok && removed.error.kind === 'transient') return { action: `failed:${removed.error.code}`, ref };
  await deleteSubscriptionOwner(deps.store, ref.id);
  return { action: 'removed', ref: undefined };
}

function failed(deps: SubscriptionDeps, connectionId: string, resource: SubscribedResource, step: string, error: GatewayFailure, ref: SubscriptionRef | undefined): { action: SubscriptionAction; ref: SubscriptionRef | undefined } {
  deps.logger.warn('change notification subscription not brought in step; the next pass tries again', { connectionId, resource, step, kind: error.kind, code: error.code, error: error.message });
  return { action: `failed:${error.code}`, ref };
}

/** Runs one message of the `subscriptions` queue. */
export async function handleSubscriptionMessage(deps: SubscriptionDeps, body: unknown): Promise<MessageSettlement> {
  const parsed = parseMessage(subscriptionMessageSchema, body, 'a subscriptions');
  if (!parsed.ok) return parsed.error;
  const { connectionId, renew, recreate, reason } = parsed.value;
  const report = await syncSubscriptions(deps, connectionId, { renew, recreate });
  return { kind: 'complete', detail: `${reason}: users ${report.users}, groups ${report.groups}` };
}

/**
 * The timer's part: one message per connection whose subscriptions need work (missing, expiring
 * within `renewWithinMs`, or present while they should not be); a connection in step costs one
 * read. The message id names the connection and the minute, so a timer firing twice queues each once.
 */
export async function queueSubscriptionPasses(deps: Pick<SubscriptionDeps, 'store' | 'clock' | 'sender' | 'deliverable'>): Promise<number> {
  const now = deps.clock.now();
  const minute = now.toISOString().slice(0, 16);
  const soonMs = now.getTime() + renewWithinMs;
  let queued = 0;
  let cursor: string | undefined;
  do {
    const page = await deps.store.query<ConnectionRecord>('connections', { limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    const due: { connectionId: string; wanted: boolean }[] = [];
    for (const { data: connection } of page.items) {
      const record = await readConnectionSubscriptions(deps.store, connection.id);
      const refs = subscribedResources.map((resource) => record?.[resource]);
      const wanted = deps.deliverable && wantsNotifications(connection);
      const needed = wanted ? refs.some((ref) => ref === undefined || Date.parse(ref.expiresAt) <= soonMs) : refs.some((ref) => ref !== undefined);
      if (needed) due.push({ connectionId: connection.id, wanted });
    }
    for (let i = 0; i < due.length; i += timerSendBatch) {
      const batch = due.slice(i, i + timerSendBatch);
      await deps.sender.send(
        subscriptionsQueue,
        batch.map(({ connectionId, wanted }) => {
          const message: SubscriptionMessage = { connectionId, reason: 'timer', renew: [], recreate: [] };
          // Turning notifications off or on within the minute still gets its own pass.
          return { messageId: `subscriptions:timer:${connectionId}:${minute}:${wanted ? 'on' : 'off'}`, body: message };
        }),
      );
      queued += batch.length;
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return queued;
}
