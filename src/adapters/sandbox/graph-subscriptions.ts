import { randomUUID } from 'node:crypto';
import { directoryMaxLifetimeMinutes } from '../../domain/notifications/change-subscription-gateway';
import type { Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import { badRequest, forbidden, graphError, type GraphResult } from './graph-errors';
import type { AccessContext } from './sandbox-authority';

/**
 * Change notifications as Microsoft documents them (api/subscription-post-subscriptions.md,
 * change-notifications-delivery-webhooks.md, change-notifications-lifecycle-events.md): a
 * subscription on `/users` or `/groups` is validated by a POST to its URLs with `validationToken`
 * (answered 200 text/plain with the token, within 10 s); changes are POSTed in batches
 * (`{value:[{subscriptionId, clientState, changeType, resource, resourceData, tenantId, ...}]}`),
 * a delivery that fails or is not acknowledged with 2xx is retried with backoff; lifecycle events
 * (`reauthorizationRequired`, `subscriptionRemoved`, `missed`) go to `lifecycleNotificationUrl`.
 * Creation and soft deletion of users and groups arrive as `updated` (Entra ID sends no `created`
 * for them); delivery retries and the reauthorization lead divide by the time scale.
 */

export type LifecycleEvent = 'reauthorizationRequired' | 'subscriptionRemoved' | 'missed';

const changeTypes = new Set(['created', 'updated', 'deleted']);
const validationTimeoutMs = 10_000;
const deliveryTimeoutMs = 10_000;
/** Notifications of one subscription collected before a POST, and how many one POST carries. */
const batchWindowMs = 50;
const maxBatch = 100;
/** Retries of a failed delivery before the batch is dropped and `missed` is sent. */
const maxDeliveryAttempts = 8;
const firstRetryMs = 1_000;
/** How long before expiry `reauthorizationRequired` is sent (Graph sends it ahead of expiry). */
const reauthorizationLeadMs = 60 * 60 * 1000;
const sweepEveryMs = 1_000;

export interface SandboxSubscription {
  readonly id: string;
  readonly tenantId: string;
  readonly appId: string;
  readonly creatorId: string;
  readonly resource: string;
  /** `users` or `groups`. */
  readonly collection: 'users' | 'groups';
  readonly changeType: string;
  notificationUrl: string;
  readonly lifecycleNotificationUrl: string | null;
  readonly clientState: string | null;
  expirationMs: number;
  reauthorizationSent: boolean;
}

/** What the control API shows of a subscription (the clientState is a secret of the subscriber: left out). */
export interface SubscriptionView {
  readonly id: string;
  readonly tenantId: string;
  readonly resource: string;
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string | null;
  readonly expirationDateTime: string;
}

interface Outbox {
  items: Record<string, unknown>[];
  timer: NodeJS.Timeout | undefined;
}

/** Sends a POST and reports the status and body, or throws on a lost connection or timeout. */
export type NotificationPoster = (url: string, body: string | undefined, contentType: string, timeoutMs: number) => Promise<{ status: number; text: string }>;

const fetchPoster: NotificationPoster = async (url, body, contentType, timeoutMs) => {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, ...(body === undefined ? {} : { body }), signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, text: await response.text() };
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Graph writes subscription instants with seven fraction digits and an explicit offset. */
function subscriptionDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, millis: string) => `.${millis}0000+00:00`);
}

/** HTTPS, except for this machine (the local host serves plain HTTP). */
function acceptableUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

const readUsers = ['user.read.all', 'user.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'];
const readGroups = ['group.read.all', 'group.readwrite.all', 'directory.read.all', 'directory.readwrite.all', 'directory.accessasuser.all'];

/** The sandbox's `/subscriptions`, its deliveries and its lifecycle events. */
export class SandboxSubscriptions {
  private readonly subscriptions = new Map<string, SandboxSubscription>();
  private readonly outboxes = new Map<string, Outbox>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;
  /** Deliveries made (each a POST of a batch), for tests and benchmarks. */
  delivered = 0;
  failedDeliveries = 0;

  constructor(
    private readonly graphBase: string,
    private readonly clock: Clock,
    private readonly timeScale: number,
    private readonly persist: (json: string) => void,
    stored: string | undefined,
    private readonly logger?: Logger,
    private readonly post: NotificationPoster = fetchPoster,
  ) {
    if (stored !== undefined) for (const s of JSON.parse(stored) as SandboxSubscription[]) this.subscriptions.set(s.id, s);
    this.sweeper = setInterval(() => this.sweep(), Math.max(50, sweepEveryMs / timeScale));
    this.sweeper.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const outbox of this.outboxes.values()) if (outbox.timer !== undefined) clearTimeout(outbox.timer);
    this.outboxes.clear();
  }

  list(): SubscriptionView[] {
    return [...this.subscriptions.values()].map((s) => ({ id: s.id, tenantId: s.tenantId, resource: s.resource, changeType: s.changeType, notificationUrl: s.notificationUrl, lifecycleNotificationUrl: s.lifecycleNotificationUrl, expirationDateTime: subscriptionDate(s.expirationMs) }));
  }

  /** Clears every subscription (control reset). */
  reset(): void {
    for (const outbox of this.outboxes.values()) if (outbox.timer !== undefined) clearTimeout(outbox.timer);
    this.outboxes.clear();
    this.subscriptions.clear();
    this.save();
  }

  /** `/subscriptions[/{id}]` for one caller. */
  async handle(method: string, id: string | undefined, body: unknown, ctx: AccessContext): Promise<GraphResult> {
    const nowMs = this.clock.now().getTime();
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: { '@odata.context': `${this.graphBase}/v1.0/$metadata#subscriptions`, value: this.own(ctx).map((s) => this.view(s)) } };
      if (method === 'POST') return this.create(body, ctx, nowMs);
      return graphError(405, 'BadRequest', 'Specified HTTP method is not allowed for the request target.', nowMs);
    }
    const subscription = this.subscriptions.get(id.toLowerCase());
    if (subscription === undefined || subscription.appId !== ctx.appId || subscription.tenantId !== ctx.tenant.id) {
      return graphError(404, 'ResourceNotFound', `The object was not found.`, nowMs);
    }
    if (method === 'GET') return { status: 200, body: { '@odata.context': `${this.graphBase}/v1.0/$metadata#subscriptions/$entity`, ...this.view(subscription) } };
    if (method === 'DELETE') {
      this.remove(subscription);
      return { status: 204 };
    }
    if (method === 'PATCH') return this.update(subscription, body, nowMs);
    return graphError(405, 'BadRequest', 'Specified HTTP method is not allowed for the request target.', nowMs);
  }

  /** A change to a directory object of a tenant: queued for every subscription it concerns. */
  changed(tenantId: string, collection: 'users' | 'groups', objectId: string, changeType: 'updated' | 'deleted'): void {
    if (this.subscriptions.size === 0) return;
    const nowMs = this.clock.now().getTime();
    const type = collection === 'users' ? 'User' : 'Group';
    const resource = `${type}s/${objectId}`;
    for (const s of this.subscriptions.values()) {
      if (s.tenantId !== tenantId || s.collection !== collection || s.expirationMs <= nowMs) continue;
      if (!s.changeType.split(',').includes(changeType)) continue;
      this.enqueue(s, {
        changeType,
        clientState: s.clientState,
        resource,
        resourceData: { '@odata.type': `#Microsoft.Graph.${type}`, '@odata.id': resource, id: objectId, organizationId: tenantId, eventTime: new Date(nowMs).toISOString(), sequenceNumber: nowMs },
        subscriptionExpirationDateTime: subscriptionDate(s.expirationMs),
        subscriptionId: s.id,
        tenantId,
      });
    }
  }

  /** Sends a lifecycle event for a subscription now (control API; the sweep sends them on schedule). */
  lifecycle(id: string, event: LifecycleEvent): boolean {
    const subscription = this.subscriptions.get(id.toLowerCase());
    if (subscription === undefined) return false;
    if (event === 'subscriptionRemoved') this.remove(subscription);
    this.sendLifecycle(subscription, event);
    return true;
  }

  private own(ctx: AccessContext): SandboxSubscription[] {
    return [...this.subscriptions.values()].filter((s) => s.appId === ctx.appId && s.tenantId === ctx.tenant.id);
  }

  private async create(body: unknown, ctx: AccessContext, nowMs: number): Promise<GraphResult> {
    if (!isRecord(body)) return badRequest('Empty Payload. JSON content expected.', nowMs);
    const { changeType, notificationUrl, lifecycleNotificationUrl, resource, expirationDateTime, clientState } = body;
    if (typeof changeType !== 'string' || changeType === '' || !changeType.split(',').every((c) => changeTypes.has(c))) return invalidRequest("'changeType' must be a comma-separated list of created, updated, deleted.", nowMs);
    if (typeof resource !== 'string') return invalidRequest("'resource' is required.", nowMs);
    const collection = resource.replace(/^\//, '').toLowerCase();
    if (collection !== 'users' && collection !== 'groups') return invalidRequest(`Resource '${resource}' is not supported.`, nowMs);
    if (!(collection === 'users' ? readUsers : readGroups).some((s) => ctx.scopes.has(s))) return forbidden(nowMs);
    if (typeof notificationUrl !== 'string' || !acceptableUrl(notificationUrl)) return invalidRequest('The notificationUrl must be an https URL.', nowMs);
    if (lifecycleNotificationUrl !== undefined && lifecycleNotificationUrl !== null && (typeof lifecycleNotificationUrl !== 'string' || !acceptableUrl(lifecycleNotificationUrl))) {
      return invalidRequest('The lifecycleNotificationUrl must be an https URL.', nowMs);
    }
    if (clientState !== undefined && clientState !== null && (typeof clientState !== 'string' || clientState.length > 128)) return invalidRequest("'clientState' must be a string of at most 128 characters.", nowMs);
    const expiration = this.expiration(expirationDateTime, nowMs);
    if (typeof expiration === 'object') return expiration;
    for (const url of [notificationUrl, ...(typeof lifecycleNotificationUrl === 'string' ? [lifecycleNotificationUrl] : [])]) {
      if (!(await this.validate(url))) {
        return graphError(400, 'InvalidRequest', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.', nowMs);
      }
    }
    const subscription: SandboxSubscription = {
      id: randomUUID(),
      tenantId: ctx.tenant.id,
      appId: ctx.appId,
      creatorId: ctx.userId,
      resource,
      collection,
      changeType,
      notificationUrl,
      lifecycleNotificationUrl: typeof lifecycleNotificationUrl === 'string' ? lifecycleNotificationUrl : null,
      clientState: typeof clientState === 'string' ? clientState : null,
      expirationMs: expiration,
      reauthorizationSent: false,
    };
    this.subscriptions.set(subscription.id, subscription);
    this.save();
    return { status: 201, body: { '@odata.context': `${this.graphBase}/v1.0/$metadata#subscriptions/$entity`, ...this.view(subscription) } };
  }

  private update(subscription: SandboxSubscription, body: unknown, nowMs: number): GraphResult {
    if (!isRecord(body)) return badRequest('Empty Payload. JSON content expected.', nowMs);
    const expiration = this.expiration(body.expirationDateTime, nowMs);
    if (typeof expiration === 'object') return expiration;
    subscription.expirationMs = expiration;
    subscription.reauthorizationSent = false;
    this.save();
    return { status: 200, body: { '@odata.context': `${this.graphBase}/v1.0/$metadata#subscriptions/$entity`, ...this.view(subscription) } };
  }

  /** The requested expiry, or the documented refusal: in the past, or beyond the maximum lifetime. */
  private expiration(value: unknown, nowMs: number): number | GraphResult {
    const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) return invalidRequest("'expirationDateTime' is required and must be a date and time.", nowMs);
    // A lifetime, not a throttling window: the time scale leaves it alone.
    const maxMs = nowMs + directoryMaxLifetimeMinutes * 60_000;
    if (ms <= nowMs) return invalidRequest('Subscription expiration can only be in the future.', nowMs);
    if (ms > maxMs + 60_000) return invalidRequest(`Subscription expiration can only be ${directoryMaxLifetimeMinutes} minutes in the future.`, nowMs);
    return Math.min(ms, maxMs);
  }

  private async validate(url: string): Promise<boolean> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    try {
      const answer = await this.post(target.toString(), undefined, 'text/plain; charset=utf-8', validationTimeoutMs);
      return answer.status === 200 && answer.text === token;
    } catch {
      return false;
    }
  }

  private view(s: SandboxSubscription): Record<string, unknown> {
    return {
      id: s.id,
      resource: s.resource,
      applicationId: s.appId,
      changeType: s.changeType,
      clientState: s.clientState,
      notificationUrl: s.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: s.lifecycleNotificationUrl,
      expirationDateTime: subscriptionDate(s.expirationMs),
      creatorId: s.creatorId,
      includeResourceData: null,
      latestSupportedTlsVersion: 'v1_2',
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
    };
  }

  private remove(subscription: SandboxSubscription): void {
    this.subscriptions.delete(subscription.id);
    const outbox = this.outboxes.get(subscription.id);
    if (outbox?.timer !== undefined) clearTimeout(outbox.timer);
    this.outboxes.delete(subscription.id);
    this.save();
  }

  private save(): void {
    this.persist(JSON.stringify([...this.subscriptions.values()]));
  }

  private enqueue(subscription: SandboxSubscription, item: Record<string, unknown>): void {
    let outbox = this.outboxes.get(subscription.id);
    if (outbox === undefined) {
      outbox = { items: [], timer: undefined };
      this.outboxes.set(subscription.id, outbox);
    }
    outbox.items.push(item);
    if (outbox.timer === undefined) {
      const box = outbox;
      box.timer = setTimeout(() => {
        box.timer = undefined;
        this.flush(subscription, box);
      }, batchWindowMs);
      box.timer.unref();
    }
  }

  private flush(subscription: SandboxSubscription, outbox: Outbox): void {
    while (outbox.items.length > 0) {
      const batch = outbox.items.splice(0, maxBatch);
      void this.deliver(subscription, subscription.notificationUrl, batch, 1);
    }
  }

  /** POSTs one batch; a failure or an answer other than 2xx is tried again later, up to a limit. */
  private async deliver(subscription: SandboxSubscription, url: string, batch: Record<string, unknown>[], attempt: number): Promise<void> {
    if (this.closed) return;
    let delivered = false;
    try {
      const answer = await this.post(url, JSON.stringify({ value: batch }), 'application/json; charset=utf-8', deliveryTimeoutMs);
      delivered = answer.status >= 200 && answer.status < 300;
    } catch {
      delivered = false;
    }
    if (delivered) {
      this.delivered += 1;
      return;
    }
    this.failedDeliveries += 1;
    if (this.closed) return;
    if (attempt >= maxDeliveryAttempts) {
      this.logger?.warn('change notifications dropped after failed deliveries', { subscriptionId: subscription.id, count: batch.length });
      // Lifecycle events are not themselves reported as missed.
      if (batch[0]?.lifecycleEvent === undefined && this.subscriptions.has(subscription.id)) this.sendLifecycle(subscription, 'missed');
      return;
    }
    const delayMs = (firstRetryMs * 2 ** (attempt - 1)) / this.timeScale;
    setTimeout(() => void this.deliver(subscription, url, batch, attempt + 1), delayMs).unref();
  }

  private sendLifecycle(subscription: SandboxSubscription, event: LifecycleEvent): void {
    const url = subscription.lifecycleNotificationUrl;
    if (url === null) return;
    const item = {
      lifecycleEvent: event,
      subscriptionId: subscription.id,
      subscriptionExpirationDateTime: subscriptionDate(subscription.expirationMs),
      clientState: subscription.clientState,
      tenantId: subscription.tenantId,
    };
    void this.deliver(subscription, url, [item], 1);
  }

  /** Expired subscriptions are removed; those about to expire are asked to renew. */
  private sweep(): void {
    const nowMs = this.clock.now().getTime();
    for (const s of [...this.subscriptions.values()]) {
      if (s.expirationMs <= nowMs) {
        this.remove(s);
        this.sendLifecycle(s, 'subscriptionRemoved');
      } else if (!s.reauthorizationSent && s.expirationMs - nowMs <= reauthorizationLeadMs / this.timeScale) {
        s.reauthorizationSent = true;
        this.save();
        this.sendLifecycle(s, 'reauthorizationRequired');
      }
    }
  }
}

function invalidRequest(message: string, nowMs: number): GraphResult {
  return graphError(400, 'InvalidRequest', message, nowMs);
}
