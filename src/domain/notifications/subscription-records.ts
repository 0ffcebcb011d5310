import type { DocumentStore } from '../ports/document-store';
import type { SubscribedResource } from './change-subscription-gateway';

/** One live subscription of a connection. */
export interface SubscriptionRef {
  readonly id: string;
  readonly expiresAt: string;
}

/**
 * A connection's change notification subscriptions (container `state`, pk
 * `subscriptions:<connectionId>`, id `current`).
 */
export interface ConnectionSubscriptions {
  readonly connectionId: string;
  readonly users?: SubscriptionRef;
  readonly groups?: SubscriptionRef;
  readonly updatedAt: string;
}

/**
 * Which connection a subscription belongs to (container `state`, pk `notification-subscription`,
 * id = subscription id): the one point read a notification costs before its clientState is checked.
 */
export interface SubscriptionOwner {
  readonly connectionId: string;
  readonly resource: SubscribedResource;
}

const currentId = 'current';
const ownerPartition = 'notification-subscription';

function partitionOf(connectionId: string): string {
  return `subscriptions:${connectionId}`;
}

/** The name of a connection's clientState in the secret store. */
export function clientStateSecretName(connectionId: string): string {
  return `notification-client-state-${connectionId}`;
}

export async function readConnectionSubscriptions(store: DocumentStore, connectionId: string): Promise<ConnectionSubscriptions | undefined> {
  return (await store.get<ConnectionSubscriptions>('state', partitionOf(connectionId), currentId))?.data;
}

export async function writeConnectionSubscriptions(store: DocumentStore, record: ConnectionSubscriptions): Promise<void> {
  await store.upsert('state', partitionOf(record.connectionId), currentId, record);
}

export async function readSubscriptionOwner(store: DocumentStore, subscriptionId: string): Promise<SubscriptionOwner | undefined> {
  return (await store.get<SubscriptionOwner>('state', ownerPartition, subscriptionId.toLowerCase()))?.data;
}

export async function writeSubscriptionOwner(store: DocumentStore, subscriptionId: string, owner: SubscriptionOwner): Promise<void> {
  await store.upsert('state', ownerPartition, subscriptionId.toLowerCase(), owner);
}

export async function deleteSubscriptionOwner(store: DocumentStore, subscriptionId: string): Promise<void> {
  await store.delete('state', ownerPartition, subscriptionId.toLowerCase());
}
