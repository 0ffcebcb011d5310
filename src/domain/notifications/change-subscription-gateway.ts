import type { GatewayResult } from '../provisioning/m365-user-gateway';

/** The directory collections the service subscribes to, one subscription each per connection. */
export const subscribedResources = ['users', 'groups'] as const;
export type SubscribedResource = (typeof subscribedResources)[number];

/**
 * Longest lifetime Microsoft Graph grants a subscription on users, groups and other directory
 * resources: 41,760 minutes, under 29 days (subscription resource type, "Subscription lifetime").
 */
export const directoryMaxLifetimeMinutes = 41_760;

/** What a subscription asks Graph for (api/subscription-post-subscriptions.md). */
export interface SubscriptionRequest {
  readonly resource: SubscribedResource;
  /** Comma-separated: `updated,deleted` (creation and soft deletion of users and groups arrive as `updated`). */
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string;
  /** Secret echoed in every notification; at most 128 characters. */
  readonly clientState: string;
  readonly expirationDateTime: string;
}

/** A subscription as Graph answered it. */
export interface ChangeSubscription {
  readonly id: string;
  readonly expirationDateTime: string;
}

/** Graph `/subscriptions` of one connection's tenant, errors classified as for users (never thrown). */
export interface ChangeSubscriptionGateway {
  /** Graph validates both URLs (a POST with `validationToken`) before it answers. */
  create(connectionId: string, request: SubscriptionRequest): Promise<GatewayResult<ChangeSubscription>>;
  /** Extends the expiry (and reauthorizes the subscription); `not_found` when Graph removed it. */
  renew(connectionId: string, subscriptionId: string, expirationDateTime: string): Promise<GatewayResult<ChangeSubscription>>;
  /** Deleting one that is gone already succeeds. */
  remove(connectionId: string, subscriptionId: string): Promise<GatewayResult<void>>;
}
