import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema, idParamSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';
import { etagHeader, ifMatchOf } from '../../src/app/http/etag';
import { defineRoute } from '../../src/app/http/route';
import { valueOrApiError } from '../../src/domain/directory/directory-failures';
import { addGroupMember, listGroupMembers, removeGroupMember } from '../../src/domain/directory/group-memberships';
import { createGroupSchema, groupSchema, patchGroupSchema } from '../../src/domain/directory/group-schemas';
import { createGroup, deleteGroup, getGroup, groupsOfUser, listGroups, updateGroup } from '../../src/domain/directory/groups';
import { userSchema } from '../../src/domain/directory/user-schemas';

const tags = ['groups'];
const notFound = { 404: { description: 'No such group', schema: errorSchema } };
const preconditionFailed = { 412: { description: 'If-Match names an older version', schema: errorSchema } };
const memberParamsSchema = z.strictObject({ id: z.string().min(1).max(128), userId: z.string().min(1).max(128) });

export const createGroupRoute = defineRoute({
  name: 'groups-create',
  method: 'POST',
  route: 'groups',
  auth: 'admin',
  summary: 'Create a group',
  tags,
  body: createGroupSchema,
  responses: { 201: { description: 'Created', schema: groupSchema }, 409: { description: 'The name is taken', schema: errorSchema }, ...errorResponses },
  handler: async ({ body, services }) => {
    const created = valueOrApiError(await createGroup(services, body));
    return { status: 201, body: created.value, headers: { location: `/api/groups/${created.value.id}`, ...etagHeader(created.etag) } };
  },
});

export const listGroupsRoute = defineRoute({
  name: 'groups-list',
  method: 'GET',
  route: 'groups',
  auth: 'reader',
  summary: 'List groups, oldest first (filters: exact name, text)',
  tags,
  query: z.strictObject({
    name: z.string().trim().min(1).max(256).optional().meta({ description: 'Exact name, any case' }),
    q: z.string().trim().min(1).max(256).optional().meta({ description: 'Substring of the name (any case)' }),
    limit: limitSchema,
    cursor: cursorSchema.optional(),
  }),
  responses: { 200: { description: 'A page of groups', schema: pageSchema(groupSchema) }, ...errorResponses },
  handler: async ({ query, services }) => ({ status: 200, body: valueOrApiError(await listGroups(services, query)) }),
});

export const getGroupRoute = defineRoute({
  name: 'groups-get',
  method: 'GET',
  route: 'groups/{id}',
  auth: 'reader',
  summary: 'Read a group',
  tags,
  params: idParamSchema,
  responses: { 200: { description: 'The group', schema: groupSchema }, ...notFound, ...errorResponses },
  handler: async ({ params, services }) => {
    const group = valueOrApiError(await getGroup(services, params.id));
    return { status: 200, body: group.value, headers: etagHeader(group.etag) };
  },
});

export const updateGroupRoute = defineRoute({
  name: 'groups-update',
  method: 'PATCH',
  route: 'groups/{id}',
  auth: 'admin',
  summary: 'Change a group: given fields replace, null clears (optional If-Match)',
  tags,
  params: idParamSchema,
  body: patchGroupSchema,
  responses: {
    200: { description: 'The changed group', schema: groupSchema },
    ...notFound,
    409: { description: 'The new name is taken', schema: errorSchema },
    ...preconditionFailed,
    ...errorResponses,
  },
  handler: async ({ params, body, request, services }) => {
    const ifMatch = ifMatchOf(request);
    const group = valueOrApiError(await updateGroup(services, params.id, body, ifMatch === undefined ? {} : { ifMatch }));
    return { status: 200, body: group.value, headers: etagHeader(group.etag) };
  },
});

export const deleteGroupRoute = defineRoute({
  name: 'groups-delete',
  method: 'DELETE',
  route: 'groups/{id}',
  auth: 'admin',
  summary: 'Delete a group and its memberships (the users stay)',
  tags,
  params: idParamSchema,
  responses: { 204: { description: 'Deleted' }, ...notFound, ...preconditionFailed, ...errorResponses },
  handler: async ({ params, request, services }) => {
    const ifMatch = ifMatchOf(request);
    valueOrApiError(await deleteGroup(services, params.id, ifMatch === undefined ? {} : { ifMatch }));
    return { status: 204 };
  },
});

export const addGroupMemberRoute = defineRoute({
  name: 'groups-member-add',
  method: 'PUT',
  route: 'groups/{id}/members/{userId}',
  auth: 'admin',
  summary: 'Add a user to a group (no change if already a member)',
  tags,
  params: memberParamsSchema,
  responses: { 204: { description: 'The user is a member' }, 404: { description: 'No such group or user', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, services }) => {
    valueOrApiError(await addGroupMember(services, params.id, params.userId));
    return { status: 204 };
  },
});

export const removeGroupMemberRoute = defineRoute({
  name: 'groups-member-remove',
  method: 'DELETE',
  route: 'groups/{id}/members/{userId}',
  auth: 'admin',
  summary: 'Remove a user from a group (no change if not a member)',
  tags,
  params: memberParamsSchema,
  responses: { 204: { description: 'The user is not a member' }, ...notFound, ...errorResponses },
  handler: async ({ params, services }) => {
    valueOrApiError(await removeGroupMember(services, params.id, params.userId));
    return { status: 204 };
  },
});

export const listGroupMembersRoute = defineRoute({
  name: 'groups-members-list',
  method: 'GET',
  route: 'groups/{id}/members',
  auth: 'reader',
  summary: "A page of a group's members, as users",
  tags,
  params: idParamSchema,
  query: z.strictObject({ limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'A page of members', schema: pageSchema(userSchema) }, ...notFound, ...errorResponses },
  handler: async ({ params, query, services }) => ({ status: 200, body: valueOrApiError(await listGroupMembers(services, params.id, query)) }),
});

export const listGroupsOfUserRoute = defineRoute({
  name: 'users-groups-list',
  method: 'GET',
  route: 'users/{id}/groups',
  auth: 'reader',
  summary: 'The groups a user is a member of, by name',
  tags,
  params: idParamSchema,
  responses: { 200: { description: "The user's groups", schema: z.object({ items: z.array(groupSchema) }) }, 404: { description: 'No such user', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, services }) => ({ status: 200, body: { items: valueOrApiError(await groupsOfUser(services, params.id)) } }),
});
