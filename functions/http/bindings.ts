import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { provisioningFor } from '../../src/app/provisioning-services';
import { licenseListSchema } from '../../src/domain/connections/connection';
import { userSummarySchema } from '../../src/domain/directory/user-schemas';
import { bindingStates } from '../../src/domain/provisioning/binding';
import { bindingApiError } from '../../src/domain/provisioning/binding-failures';
import { countBindings, getGroupBinding, listGroupBindings, getUserBinding, listUserBindings } from '../../src/domain/provisioning/binding-queries';
import { bindGroup, unbindGroup } from '../../src/domain/provisioning/bind-group';
import { bindUser, unbindUser } from '../../src/domain/provisioning/bind-user';
import type { Result } from '../../src/domain/result';

const tags = ['bindings'];
const id = z.string().min(1).max(128);
const userParams = z.strictObject({ id, userId: id });
const groupParams = z.strictObject({ id, groupId: id });

const bindingErrorSchema = z.object({ code: z.string(), message: z.string(), at: z.string() });

const userBindingSchema = z.object({
  connectionId: z.string(),
  userId: z.string(),
  user: userSummarySchema.optional(),
  state: z.enum(bindingStates),
  bound: z.boolean().meta({ description: 'False once unbound; the record stays, showing the deactivation' }),
  via: z.object({ direct: z.boolean(), groups: z.array(z.string()) }),
  m365UserId: z.string().optional(),
  lastError: bindingErrorSchema.optional(),
  attempts: z.number().int().meta({ description: 'Failed attempts since the last success' }),
  lastSyncedAt: z.string().optional(),
  note: z.string().optional(),
  keptNames: z
    .object({ email: z.string(), userPrincipalName: z.string(), mailNickname: z.string() })
    .optional()
    .meta({ description: "An imported account's own sign-in names, kept instead of those the email maps to while the user's email is still `email`" }),
  managedAttributes: z.array(z.string()).optional().meta({ description: 'The Microsoft 365 properties provisioning keeps in step for this account, as of its last run; a mapped attribute the directory has no value for is left as Microsoft 365 holds it (emptyValues "keep")' }),
  allowPrivileged: z.boolean().optional().meta({ description: 'Provisioning may disable, re-password and rename the account although it is privileged' }),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'UserBinding' });

const bindUserBodySchema = z
  .strictObject({
    allowPrivileged: z.boolean().optional().meta({ description: 'Let provisioning disable, re-password and rename this account although it holds a privileged directory role or is the consenting account; false takes that back' }),
  })
  .optional();

const groupBindingSchema = z.object({
  connectionId: z.string(),
  groupId: z.string(),
  expansion: z.enum(['binding', 'bound', 'unbinding']),
  boundMembers: z.number().int(),
  skippedMembers: z.number().int().meta({ description: 'Members whose domain is not this connection\'s, or who are bound to another connection' }),
  m365GroupId: z.string().optional().meta({ description: 'The Microsoft 365 group the binding was imported from, if any' }),
  licenses: z.array(z.object({ skuPartNumber: z.string().optional(), skuId: z.string().optional(), disabledPlans: z.array(z.string()).optional() })).optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'GroupBinding' });

const m365GroupSchema = z
  .object({
    state: z.enum(['pending', 'synced', 'error']).meta({ description: 'pending: a change is not written yet; synced: the group matches the directory; error: the last attempt failed' }),
    m365GroupId: z.string().optional(),
    lastError: bindingErrorSchema.optional(),
    attempts: z.number().int().meta({ description: 'Failed attempts since the last success' }),
    lastSyncedAt: z.string().optional(),
  })
  .meta({ description: 'The bound group as a Microsoft 365 security group; absent until its first sync starts' });

const groupBindingWithM365Schema = groupBindingSchema.extend({ m365Group: m365GroupSchema.optional() }).meta({ id: 'GroupBindingWithM365Group' });

const bindingCountsSchema = z.object({
  users: z.object({ total: z.number().int(), pending: z.number().int(), provisioned: z.number().int(), error: z.number().int(), deprovisioned: z.number().int() }),
  groups: z.number().int(),
});

const refusals = {
  404: { description: 'No such connection, user, group or binding', schema: errorSchema },
  409: { description: 'The connection is not active, or the user is bound to another connection (or through a group)', schema: errorSchema },
  422: { description: "The user's email domain is not claimed by this connection", schema: errorSchema },
};

function valueOf<T, E extends Parameters<typeof bindingApiError>[0]>(result: Result<T, E>): T {
  if (!result.ok) throw bindingApiError(result.error);
  return result.value;
}

export const bindUserRoute = defineRoute({
  name: 'bindings-user-put',
  method: 'PUT',
  route: 'connections/{id}/users/{userId}',
  auth: 'admin',
  summary: 'Bind a user to a connection: the worker creates or takes over their Microsoft 365 account',
  tags,
  params: userParams,
  body: bindUserBodySchema,
  responses: { 202: { description: 'Bound; provisioning runs in the background', schema: userBindingSchema }, ...refusals, ...errorResponses },
  handler: async ({ params, body, services }) => ({ status: 202, body: valueOf(await bindUser(provisioningFor(services), params.id, params.userId, body ?? {})) }),
});

export const unbindUserRoute = defineRoute({
  name: 'bindings-user-delete',
  method: 'DELETE',
  route: 'connections/{id}/users/{userId}',
  auth: 'admin',
  summary: 'Unbind a user: the worker deactivates their Microsoft 365 account',
  tags,
  params: userParams,
  responses: { 202: { description: 'Unbound; deactivation runs in the background', schema: userBindingSchema }, ...refusals, ...errorResponses },
  handler: async ({ params, services }) => ({ status: 202, body: valueOf(await unbindUser(provisioningFor(services), params.id, params.userId)) }),
});

export const getUserBindingRoute = defineRoute({
  name: 'bindings-user-get',
  method: 'GET',
  route: 'connections/{id}/users/{userId}',
  auth: 'reader',
  summary: "A user's binding: state, Microsoft 365 object id, last error, attempts, last sync",
  tags,
  params: userParams,
  responses: { 200: { description: 'The binding', schema: userBindingSchema }, 404: refusals[404], ...errorResponses },
  handler: async ({ params, services }) => ({ status: 200, body: valueOf(await getUserBinding(services, params.id, params.userId)) }),
});

export const listUserBindingsRoute = defineRoute({
  name: 'bindings-user-list',
  method: 'GET',
  route: 'connections/{id}/users',
  auth: 'reader',
  summary: "A connection's user bindings, by user id",
  tags,
  params: z.strictObject({ id }),
  query: z.strictObject({ state: z.enum(bindingStates).optional(), limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'A page of bindings', schema: pageSchema(userBindingSchema) }, 404: refusals[404], ...errorResponses },
  handler: async ({ params, query, services }) => ({ status: 200, body: valueOf(await listUserBindings(services, params.id, query)) }),
});

export const bindGroupRoute = defineRoute({
  name: 'bindings-group-put',
  method: 'PUT',
  route: 'connections/{id}/groups/{groupId}',
  auth: 'admin',
  summary: 'Bind a group: every current and future member whose domain the connection claims is bound',
  tags,
  params: groupParams,
  body: z
    .strictObject({ licenses: licenseListSchema.optional().meta({ description: 'Licences every member bound through the group gets; binding again with other licences changes them for every member' }) })
    .optional(),
  responses: { 202: { description: 'Bound; members are bound in the background', schema: groupBindingSchema }, 404: refusals[404], 409: { description: 'The connection is not active', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, body, services }) => ({ status: 202, body: valueOf(await bindGroup(provisioningFor(services), params.id, params.groupId, body?.licenses === undefined ? {} : { licenses: body.licenses })) }),
});

export const unbindGroupRoute = defineRoute({
  name: 'bindings-group-delete',
  method: 'DELETE',
  route: 'connections/{id}/groups/{groupId}',
  auth: 'admin',
  summary: 'Unbind a group: members bound only through it are unbound',
  tags,
  params: groupParams,
  responses: { 202: { description: 'Unbinding runs in the background', schema: groupBindingSchema }, 404: refusals[404], ...errorResponses },
  handler: async ({ params, services }) => ({ status: 202, body: valueOf(await unbindGroup(provisioningFor(services), params.id, params.groupId)) }),
});

export const listGroupBindingsRoute = defineRoute({
  name: 'bindings-group-list',
  method: 'GET',
  route: 'connections/{id}/groups',
  auth: 'reader',
  summary: "A connection's group bindings",
  tags,
  params: z.strictObject({ id }),
  query: z.strictObject({ limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'A page of group bindings, each with its Microsoft 365 group', schema: pageSchema(groupBindingWithM365Schema) }, 404: refusals[404], ...errorResponses },
  handler: async ({ params, query, services }) => ({ status: 200, body: valueOf(await listGroupBindings(services, params.id, query)) }),
});

export const getGroupBindingRoute = defineRoute({
  name: 'bindings-group-get',
  method: 'GET',
  route: 'connections/{id}/groups/{groupId}',
  auth: 'reader',
  summary: "A group's binding and the state of its Microsoft 365 security group",
  tags,
  params: groupParams,
  responses: { 200: { description: 'The binding', schema: groupBindingWithM365Schema }, 404: refusals[404], ...errorResponses },
  handler: async ({ params, services }) => ({ status: 200, body: valueOf(await getGroupBinding(services, params.id, params.groupId)) }),
});

export const countBindingsRoute = defineRoute({
  name: 'bindings-count',
  method: 'GET',
  route: 'connections/{id}/binding-counts',
  auth: 'reader',
  summary: 'How many user bindings (by state) and group bindings a connection holds: what de-authorizing it removes',
  tags,
  params: z.strictObject({ id }),
  responses: { 200: { description: 'The counts', schema: bindingCountsSchema }, 404: { description: 'No such connection', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, services }) => ({ status: 200, body: valueOf(await countBindings(services, params.id)) }),
});
