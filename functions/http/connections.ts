import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema, idParamSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { ApiError, type ApiErrorCode } from '../../src/domain/errors';
import type { Result } from '../../src/domain/result';
import { connectionSettingsPatchSchema, connectionSettingsSchema, domainListSchema } from '../../src/domain/connections/connection';
import type { ConnectionDeps, ConnectionError } from '../../src/domain/connections/connection-deps';
import { connectionStatuses } from '../../src/domain/connections/connection-state';
import { startConsent } from '../../src/domain/connections/consent';
import { deauthorizeConnection } from '../../src/domain/connections/deauthorize-connection';
import { createConnection, deleteConnection, getConnection, listConnections, updateConnection } from '../../src/domain/connections/manage-connections';
import type { Services } from '../../src/app/services';
import { importsFor } from '../../src/app/import-services';
import { planApiError } from '../../src/domain/plans/plan-changes';
import { guardSettingsChange, releasePlannedWrites, type SettingsGuardFailure } from '../../src/domain/plans/settings-guard';
import { planSummarySchema } from './plans';

const tags = ['connections'];

const connectionSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(connectionStatuses),
  domains: z.array(z.string()),
  settings: connectionSettingsSchema,
  tenantId: z.string().optional(),
  tenantName: z.string().optional(),
  consentedBy: z.object({ objectId: z.string(), upn: z.string() }).optional(),
  consentedAt: z.string().optional(),
  reauthorization: z.object({ code: z.string(), reason: z.string(), at: z.string() }).optional().meta({ description: 'Why a Global Administrator must consent again' }),
  deactivationHold: z.object({ count: z.number().int(), since: z.string() }).optional().meta({ description: 'Deactivations held by the mass-deactivation guard (status sync_paused) until confirmed or cancelled' }),
  consentUpgrade: z
    .object({
      status: z.literal('consent_upgrade_required'),
      permissions: z.array(z.string()),
      reason: z.string(),
      at: z.string(),
      consentLink: z.string().meta({ description: 'POST it for a consent URL a Global Administrator opens to grant the missing permissions' }),
    })
    .optional()
    .meta({ description: 'The consent lacks permissions a feature needs (licences); everything else keeps working' }),
  deauthorizedAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'Connection' });
const consentLinkSchema = z.object({
  consentUrl: z.string().meta({ description: 'Open as a Global Administrator; valid once, for 10 minutes' }),
  expiresAt: z.string(),
});
const notFound = { 404: { description: 'No such connection', schema: errorSchema } };
const conflict = { 409: { description: 'A domain is claimed elsewhere, or the connection is in the wrong state', schema: errorSchema } };

const statusOf: Readonly<Record<ConnectionError['code'], ApiErrorCode>> = {
  not_found: 'NOT_FOUND',
  conflict: 'CONFLICT',
  unprocessable: 'UNPROCESSABLE',
  unavailable: 'SERVICE_UNAVAILABLE',
};

function valueOr<T>(result: Result<T, ConnectionError>): T {
  if (result.ok) return result.value;
  const { code, message, field } = result.error;
  throw new ApiError(statusOf[code], message, field === undefined ? undefined : [{ field: `body.${field}`, message }]);
}

/** The connection use cases' ports, from the process services. */
export function connectionDeps(services: Services): ConnectionDeps {
  return { store: services.store, secrets: services.secrets, clock: services.clock, logger: services.logger, identity: services.m365.identity, tenants: services.m365.tenants };
}

export const createConnectionRoute = defineRoute({
  name: 'connections-create',
  method: 'POST',
  route: 'connections',
  auth: 'admin',
  summary: 'Create a connection (pending consent) and its consent URL',
  tags,
  body: z.strictObject({
    name: z.string().trim().min(1).max(200),
    domains: domainListSchema.default([]).meta({ description: 'Domains to claim; when omitted, the verified, managed custom domains of the tenant that no other connection holds' }),
    settings: connectionSettingsSchema.default(connectionSettingsSchema.parse({})),
  }),
  responses: { 201: { description: 'Created', schema: connectionSchema.extend(consentLinkSchema.shape) }, ...conflict, ...errorResponses },
  handler: async ({ body, services }) => {
    const created = valueOr(await createConnection(connectionDeps(services), body));
    return { status: 201, body: created, headers: { location: `/api/connections/${created.id}` } };
  },
});

export const listConnectionsRoute = defineRoute({
  name: 'connections-list',
  method: 'GET',
  route: 'connections',
  auth: 'reader',
  summary: 'List connections, oldest first',
  tags,
  query: z.strictObject({ status: z.enum(connectionStatuses).optional(), limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'A page of connections', schema: pageSchema(connectionSchema) }, ...errorResponses },
  handler: async ({ query, services }) => ({ status: 200, body: await listConnections(services, query) }),
});

export const getConnectionRoute = defineRoute({
  name: 'connections-get',
  method: 'GET',
  route: 'connections/{id}',
  auth: 'reader',
  summary: 'Read a connection (never its tokens)',
  tags,
  params: idParamSchema,
  responses: { 200: { description: 'The connection', schema: connectionSchema }, ...notFound, ...errorResponses },
  handler: async ({ params, services }) => ({ status: 200, body: valueOr(await getConnection(services, params.id)) }),
});

function settingsGuardError(failure: SettingsGuardFailure): ApiError {
  switch (failure.code) {
    case 'plan_not_found':
    case 'plan_mismatch':
    case 'plan_stale':
      return new ApiError('CONFLICT', failure.message, [{ field: 'query.confirmPlan', message: failure.message }]);
    default:
      return planApiError(failure);
  }
}

export const updateConnectionRoute = defineRoute({
  name: 'connections-update',
  method: 'PATCH',
  route: 'connections/{id}',
  auth: 'admin',
  summary:
    'Edit name, domains (verified in the tenant and claimed) and settings. A settings change that would write to more existing accounts than the connection\'s changeGuard allows is not applied: it answers 409 with its stored plan, and applies when sent again with ?confirmPlan={plan id}',
  tags,
  params: idParamSchema,
  query: z.strictObject({
    confirmPlan: z.uuid().optional().meta({ description: 'The id of the plan a 409 answered with (or of POST /connections/{id}/plan for these settings): applies the change and makes exactly the planned writes now' }),
  }),
  body: z
    .strictObject({ name: z.string().trim().min(1).max(200).optional(), domains: domainListSchema.optional(), settings: connectionSettingsPatchSchema.optional() })
    .refine((patch) => patch.name !== undefined || patch.domains !== undefined || patch.settings !== undefined, 'name, domains or settings is required'),
  responses: {
    200: { description: 'The connection', schema: connectionSchema },
    ...notFound,
    409: {
      description:
        'A domain is claimed elsewhere; or the settings change is beyond the mass-change guard (error.code CONFLICT with `plan`: nothing changed, confirm with ?confirmPlan={plan.id}); or the plan to confirm is unknown, expired, of another change, or older than the connection',
      schema: errorSchema.extend({ plan: planSummarySchema.optional() }),
    },
    422: { description: 'A domain is not verified or managed in the tenant, or cannot be checked now; or Microsoft 365 refused a read the plan needs', schema: errorSchema },
    503: { description: 'Microsoft 365 could not be reached to check the domains or plan the change', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, query, body, services }) => {
    const guardDeps = { ...importsFor(services).worker, sender: services.sender, logger: services.logger };
    const judged = await guardSettingsChange(guardDeps, params.id, body.settings, query.confirmPlan);
    if (!judged.ok) throw settingsGuardError(judged.error);
    if (judged.value.kind === 'held') {
      const { plan } = judged.value;
      const message = `the settings change would write to ${plan.guard.changing} existing accounts, more than the connection's changeGuard allows (${plan.guard.limit}); nothing was changed. Review plan ${plan.id} and send the same change with ?confirmPlan=${plan.id} to apply it`;
      return { status: 409, body: { error: { code: 'CONFLICT', message }, plan } };
    }
    const updated = valueOr(await updateConnection(connectionDeps(services), params.id, body));
    if (judged.value.kind === 'confirmed') await releasePlannedWrites(guardDeps, params.id, judged.value.plan.accounts);
    return { status: 200, body: updated };
  },
});

export const deleteConnectionRoute = defineRoute({
  name: 'connections-delete',
  method: 'DELETE',
  route: 'connections/{id}',
  auth: 'admin',
  summary: 'Delete a connection that is not active (de-authorize it first)',
  tags,
  params: idParamSchema,
  responses: { 204: { description: 'Deleted' }, ...notFound, ...conflict, ...errorResponses },
  handler: async ({ params, services }) => {
    valueOr(await deleteConnection(connectionDeps(services), params.id));
    return { status: 204 };
  },
});

export const startConsentRoute = defineRoute({
  name: 'connections-consent',
  method: 'POST',
  route: 'connections/{id}/consent',
  auth: 'admin',
  summary: 'A fresh consent URL (first consent, renewal or re-consent)',
  tags,
  params: idParamSchema,
  responses: { 200: { description: 'The consent URL', schema: consentLinkSchema }, ...notFound, ...errorResponses },
  handler: async ({ params, services }) => ({ status: 200, body: valueOr(await startConsent(connectionDeps(services), params.id)) }),
});

export const deauthorizeConnectionRoute = defineRoute({
  name: 'connections-deauthorize',
  method: 'DELETE',
  route: 'connections/{id}/authorization',
  auth: 'admin',
  summary: 'De-authorize: delete the tokens and every binding, without touching Microsoft 365',
  tags,
  params: idParamSchema,
  responses: {
    200: { description: 'De-authorized', schema: z.object({ status: z.literal('deauthorized'), unboundUsers: z.number().int() }) },
    ...notFound,
    409: { description: 'The connection has never been authorized', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, services }) => ({ status: 200, body: valueOr(await deauthorizeConnection(connectionDeps(services), params.id)) }),
});
