import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { importsFor } from '../../src/app/import-services';
import { importApiError, type ImportFailure } from '../../src/domain/import/import-failures';
import { importFilterSchema } from '../../src/domain/import/import-filter';
import { getImportJob, importJobStatuses, importOutcomes, startImport, startImportSchema } from '../../src/domain/import/import-jobs';
import { importStatuses } from '../../src/domain/import/import-status';
import { previewM365Users } from '../../src/domain/import/preview-m365-users';
import type { Result } from '../../src/domain/result';

const tags = ['imports'];
const id = z.string().min(1).max(128);

const previewItemSchema = z.object({
  id: z.string().meta({ description: 'The Microsoft 365 object id' }),
  userPrincipalName: z.string(),
  mail: z.string().optional(),
  email: z.string().optional().meta({ description: 'The email an import gives the directory user: mail, else the UPN' }),
  displayName: z.string().optional(),
  givenName: z.string().optional(),
  surname: z.string().optional(),
  accountEnabled: z.boolean(),
  status: z.enum(importStatuses),
  userId: z.string().optional().meta({ description: 'imported: the bound directory user; conflict, other_connection: the directory user with that email' }),
  boundConnectionId: z.string().optional().meta({ description: 'other_connection: the connection that directory user is bound to' }),
  privileged: z.literal(true).optional().meta({ description: 'Holds a directory role Microsoft labels privileged: imported only when named by id (m365UserIds), never through a filter or group' }),
  consentingAccount: z.literal(true).optional().meta({ description: 'The account this connection was consented with: imported only when named by id' }),
}).meta({ id: 'M365UserPreview' });

const resultSchema = z.union([
  z.object({ type: z.literal('user'), m365UserId: z.string(), upn: z.string(), outcome: z.enum(importOutcomes), userId: z.string().optional(), linked: z.literal(true).optional(), reason: z.string().optional() }),
  z.object({ type: z.literal('group'), m365GroupId: z.string(), displayName: z.string(), outcome: z.enum(importOutcomes), groupId: z.string().optional(), linked: z.literal(true).optional(), reason: z.string().optional() }),
]);

const jobSchema = z.object({
  id: z.string(),
  connectionId: z.string(),
  source: z.enum(['users', 'filter', 'groups']),
  filter: importFilterSchema.optional(),
  status: z.enum(importJobStatuses),
  total: z.number().int().meta({ description: 'The ids asked for; for a filter or groups, the users and groups handled so far' }),
  succeeded: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  error: z.string().optional().meta({ description: 'Why the job failed (a page that could not be read), when it did' }),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  results: z.array(resultSchema),
  nextCursor: z.string().optional().meta({ description: 'More results: pass as cursor' }),
}).meta({ id: 'ImportJob' });

const enabledSchema = z.enum(['true', 'false']).transform((value) => value === 'true');

function valueOf<T>(result: Result<T, ImportFailure>): T {
  if (!result.ok) throw importApiError(result.error);
  return result.value;
}

export const previewM365UsersRoute = defineRoute({
  name: 'imports-preview',
  method: 'GET',
  route: 'connections/{id}/m365/users',
  auth: 'reader',
  summary: "The tenant's users with their status against the directory (new, imported, conflict, other_connection), filtered and paged",
  tags,
  params: z.strictObject({ id }),
  query: z.strictObject({
    status: z.enum(importStatuses).optional(),
    domain: importFilterSchema.shape.domain,
    q: importFilterSchema.shape.q,
    enabled: enabledSchema.optional(),
    limit: limitSchema,
    cursor: cursorSchema.optional().meta({ description: 'A page may hold fewer than limit users and still have a nextCursor: keep following it' }),
  }),
  responses: {
    200: { description: 'A page of Microsoft 365 users', schema: pageSchema(previewItemSchema) },
    404: { description: 'No such connection', schema: errorSchema },
    409: { description: 'The connection is not authorized (pending consent, re-consent needed, de-authorized)', schema: errorSchema },
    422: { description: 'Microsoft 365 refused the read', schema: errorSchema },
    503: { description: 'Microsoft 365 did not answer', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, query, services }) => ({ status: 200, body: valueOf(await previewM365Users(importsFor(services).preview, params.id, query)) }),
});

export const startImportRoute = defineRoute({
  name: 'imports-start',
  method: 'POST',
  route: 'connections/{id}/imports',
  auth: 'admin',
  summary: 'Import Microsoft 365 users (by id, or all a filter matches) or security groups with their members, as a background job',
  tags,
  params: z.strictObject({ id }),
  body: startImportSchema,
  responses: {
    202: { description: 'Queued; follow it at /api/imports/{jobId}', schema: z.object({ jobId: z.string(), status: z.enum(importJobStatuses) }) },
    404: { description: 'No such connection', schema: errorSchema },
    409: { description: 'The connection is not active', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, body, services }) => {
    const job = valueOf(await startImport(importsFor(services).worker, params.id, body));
    return { status: 202, body: { jobId: job.id, status: job.status }, headers: { location: `/api/imports/${job.id}` } };
  },
});

export const getImportRoute = defineRoute({
  name: 'imports-get',
  method: 'GET',
  route: 'imports/{jobId}',
  auth: 'reader',
  summary: 'An import job: status, counts and its results, a page at a time',
  tags,
  params: z.strictObject({ jobId: id }),
  query: z.strictObject({ outcome: z.enum(importOutcomes).optional(), limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'The job', schema: jobSchema }, 404: { description: 'No such job', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, query, services }) => ({ status: 200, body: valueOf(await getImportJob(services, params.jobId, query)) }),
});
