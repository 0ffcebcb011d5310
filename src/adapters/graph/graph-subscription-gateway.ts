import type { ChangeSubscription, ChangeSubscriptionGateway, SubscriptionRequest } from '../../domain/notifications/change-subscription-gateway';
import type { GatewayResult } from '../../domain/provisioning/m365-user-gateway';
import { err, ok } from '../../domain/result';
import type { GraphClientFactory } from './graph-client-factory';
import { translateGraphError } from './graph-error-translator';
import { toGatewayFailure } from './graph-user-gateway';

interface RawSubscription {
  readonly id: string;
  readonly expirationDateTime: string;
}

async function attempt<T>(call: () => Promise<T>): Promise<GatewayResult<T>> {
  try {
    return ok(await call());
  } catch (error) {
    return err(toGatewayFailure(translateGraphError(error)));
  }
}

/** Graph `/subscriptions` (api/subscription-post-subscriptions.md, -update, -delete) on a connection's client. */
export function createGraphSubscriptionGateway(graph: GraphClientFactory): ChangeSubscriptionGateway {
  return {
    create: (connectionId, request: SubscriptionRequest) =>
      attempt(async (): Promise<ChangeSubscription> => {
        const created = await graph.forConnection(connectionId).post<RawSubscription>('/subscriptions', {
          changeType: request.changeType,
          notificationUrl: request.notificationUrl,
          lifecycleNotificationUrl: request.lifecycleNotificationUrl,
          resource: request.resource,
          expirationDateTime: request.expirationDateTime,
          clientState: request.clientState,
          latestSupportedTlsVersion: 'v1_2',
        });
        return { id: created.id, expirationDateTime: created.expirationDateTime };
      }),
    renew: (connectionId, subscriptionId, expirationDateTime) =>
      attempt(async (): Promise<ChangeSubscription> => {
        const renewed = await graph.forConnection(connectionId).patch<RawSubscription>(`/subscriptions/${encodeURIComponent(subscriptionId)}`, { expirationDateTime });
        return { id: renewed.id, expirationDateTime: renewed.expirationDateTime };
      }),
    remove: async (connectionId, subscriptionId) => {
      const removed = await attempt(() => graph.forConnection(connectionId).delete(`/subscriptions/${encodeURIComponent(subscriptionId)}`));
      return !removed.ok && removed.error.kind === 'not_found' ? ok(undefined) : removed;
    },
  };
}
