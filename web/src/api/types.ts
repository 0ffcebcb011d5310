import type { paths } from './schema';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Responses<P extends keyof paths, M extends Method> = paths[P][M] extends { responses: infer R } ? R : never;
type JsonOf<R> = R extends { content: { 'application/json': infer J } } ? J : never;

/** The JSON of a route's success answer, as the OpenAPI document declares it. */
export type Answer<P extends keyof paths, M extends Method = 'get'> = JsonOf<Responses<P, M>[200 & keyof Responses<P, M>]> | JsonOf<Responses<P, M>[201 & keyof Responses<P, M>]> | JsonOf<Responses<P, M>[202 & keyof Responses<P, M>]>;

export type User = Answer<'/api/users/{id}'>;
export type Group = Answer<'/api/groups/{id}'>;
export type Connection = Answer<'/api/connections/{id}'>;
export type ConnectionSettings = Connection['settings'];
export type UserBinding = Answer<'/api/connections/{id}/users/{userId}'>;
export type GroupBinding = Answer<'/api/connections/{id}/groups/{groupId}'>;
export type BindingCounts = Answer<'/api/connections/{id}/binding-counts'>;
export type PreviewUser = Answer<'/api/connections/{id}/m365/users'>['items'][number];
export type ImportJob = Answer<'/api/imports/{jobId}'>;
export type ProvisioningEvent = Answer<'/api/events'>['items'][number];
export type ReconcileStatus = Answer<'/api/connections/{id}/reconcile'>;
export type HeldDeactivations = Answer<'/api/connections/{id}/deactivations'>;
export type ExportAttribute = NonNullable<ConnectionSettings['exportAttributes']>[number];
export type DeadLetter = Answer<'/api/dead-letters'>['items'][number];
export type QueueName = DeadLetter['queue'];
export type Plan = Answer<'/api/connections/{id}/plan', 'post'>;
export type PlanWarning = keyof Plan['warnings'];
