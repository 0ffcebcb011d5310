import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema, idParamSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';
import { etagHeader, ifMatchOf } from '../../src/app/http/etag';
import { defineRoute } from '../../src/app/http/route';
import { valueOrApiError } from '../../src/domain/directory/directory-failures';
import { createUserSchema, emailSchema, patchUserSchema, setPasswordSchema, userSchema, userStateSchema } from '../../src/domain/directory/user-schemas';
import { createUser, deleteUser, getUser, listUsers, setUserPassword, setUserState, updateUser } from '../../src/domain/directory/users';

const tags = ['users'];
const notFound = { 404: { description: 'No such user', schema: errorSchema } };
const preconditionFailed = { 412: { description: 'If-Match names an older version', schema: errorSchema } };

export const createUserRoute = defineRoute({
  name: 'users-create',
  method: 'POST',
  route: 'users',
  auth: 'admin',
  summary: 'Create a user',
  tags,
  body: createUserSchema,
  responses: {
    201: { description: 'Created', schema: userSchema },
    409: { description: 'The email or username is taken', schema: errorSchema },
    422: { description: 'managerId names no user', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ body, services }) => {
    const created = valueOrApiError(await createUser(services, body));
    return { status: 201, body: created.value, headers: { location: `/api/users/${created.value.id}`, ...etagHeader(created.etag) } };
  },
});

export const listUsersRoute = defineRoute({
  name: 'users-list',
  method: 'GET',
  route: 'users',
  auth: 'reader',
  summary: 'List users, oldest first (filters: exact email, text, state)',
  tags,
  query: z.strictObject({
    email: emailSchema.optional(),
    q: z.string().trim().min(1).max(256).optional().meta({ description: 'Substring of first name, last name, display name, email or username (any case)' }),
    state: userStateSchema.optional(),
    limit: limitSchema,
    cursor: cursorSchema.optional(),
  }),
  responses: { 200: { description: 'A page of users', schema: pageSchema(userSchema) }, ...errorResponses },
  handler: async ({ query, services }) => ({ status: 200, body: valueOrApiError(await listUsers(services, query)) }),
});

export const getUserRoute = defineRoute({
  name: 'users-get',
  method: 'GET',
  route: 'users/{id}',
  auth: 'reader',
  summary: 'Read a user',
  tags,
  params: idParamSchema,
  responses: { 200: { description: 'The user', schema: userSchema }, ...notFound, ...errorResponses },
  handler: async ({ params, services }) => {
    const user = valueOrApiError(await getUser(services, params.id));
    return { status: 200, body: user.value, headers: etagHeader(user.etag) };
  },
});

export const updateUserRoute = defineRoute({
  name: 'users-update',
  method: 'PATCH',
  route: 'users/{id}',
  auth: 'admin',
  summary: 'Change a user: given fields replace, null clears (optional If-Match)',
  tags,
  params: idParamSchema,
  body: patchUserSchema,
  responses: {
    200: { description: 'The changed user', schema: userSchema },
    ...notFound,
    409: { description: 'The new email or username is taken, or the email may not change', schema: errorSchema },
    ...preconditionFailed,
    422: { description: 'managerId names no user, or the user itself', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, body, request, services }) => {
    const ifMatch = ifMatchOf(request);
    const user = valueOrApiError(await updateUser(services, params.id, body, ifMatch === undefined ? {} : { ifMatch }));
    return { status: 200, body: user.value, headers: etagHeader(user.etag) };
  },
});

export const deleteUserRoute = defineRoute({
  name: 'users-delete',
  method: 'DELETE',
  route: 'users/{id}',
  auth: 'admin',
  summary: 'Delete a user (and its group memberships)',
  tags,
  params: idParamSchema,
  responses: { 204: { description: 'Deleted' }, ...notFound, ...preconditionFailed, ...errorResponses },
  handler: async ({ params, request, services }) => {
    const ifMatch = ifMatchOf(request);
    valueOrApiError(await deleteUser(services, params.id, ifMatch === undefined ? {} : { ifMatch }));
    return { status: 204 };
  },
});

function stateRoute(action: 'suspend' | 'activate') {
  return defineRoute({
    name: `users-${action}`,
    method: 'POST',
    route: `users/{id}/${action}`,
    auth: 'admin',
    summary: action === 'suspend' ? 'Suspend a user (no change if already suspended)' : 'Reactivate a user (no change if already active)',
    tags,
    params: idParamSchema,
    responses: { 200: { description: 'The user', schema: userSchema }, ...notFound, ...errorResponses },
    handler: async ({ params, services }) => {
      const user = valueOrApiError(await setUserState(services, params.id, action === 'suspend' ? 'suspended' : 'active'));
      return { status: 200, body: user.value, headers: etagHeader(user.etag) };
    },
  });
}

export const suspendUserRoute = stateRoute('suspend');
export const activateUserRoute = stateRoute('activate');

export const setUserPasswordRoute = defineRoute({
  name: 'users-set-password',
  method: 'PUT',
  route: 'users/{id}/password',
  auth: 'admin',
  summary: "Set a user's password (policy: minimum length, not the email or username); only a hash is kept",
  tags,
  params: idParamSchema,
  body: setPasswordSchema,
  responses: { 204: { description: 'Set' }, ...notFound, ...errorResponses },
  handler: async ({ params, body, services }) => {
    valueOrApiError(await setUserPassword(services, params.id, body.password));
    return { status: 204 };
  },
});
