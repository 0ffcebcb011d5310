import { z } from 'zod';
import { ApiError } from '../../src/domain/errors';
import { createApiKey, deleteApiKey, listApiKeys } from '../../src/domain/keys/api-keys';
import { defineRoute } from '../../src/app/http/route';
import { cursorSchema, errorResponses, errorSchema, idParamSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';

const keyView = z.object({ id: z.string(), name: z.string(), role: z.enum(['admin', 'reader']), createdAt: z.string() }).meta({ id: 'ApiKey' });

export const createKey = defineRoute({
  name: 'keys-create',
  method: 'POST',
  route: 'keys',
  auth: 'admin',
  summary: 'Create an API key (the key is shown once)',
  tags: ['keys'],
  body: z.strictObject({ name: z.string().trim().min(1).max(100), role: z.enum(['admin', 'reader']) }),
  responses: { 201: { description: 'Created', schema: keyView.extend({ key: z.string() }) }, ...errorResponses },
  handler: async ({ body, services }) => ({ status: 201, body: await createApiKey(services, body) }),
});

export const listKeys = defineRoute({
  name: 'keys-list',
  method: 'GET',
  route: 'keys',
  auth: 'admin',
  summary: 'List API keys (never their secrets)',
  tags: ['keys'],
  query: z.strictObject({ limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'A page of keys', schema: pageSchema(keyView) }, ...errorResponses },
  handler: async ({ query, services }) => ({ status: 200, body: await listApiKeys(services, query) }),
});

export const deleteKey = defineRoute({
  name: 'keys-delete',
  method: 'DELETE',
  route: 'keys/{id}',
  auth: 'admin',
  summary: 'Revoke an API key',
  tags: ['keys'],
  params: idParamSchema,
  responses: { 204: { description: 'Deleted' }, 404: { description: 'No such key', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, services }) => {
    const result = await deleteApiKey(services, params.id);
    if (!result.ok) throw new ApiError('NOT_FOUND', `key ${params.id} not found`);
    return { status: 204 };
  },
});
