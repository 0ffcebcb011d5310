import { z } from 'zod';
import { cursorSchema, errorResponses, errorSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { importsFor } from '../../src/app/import-services';
import { ApiError } from '../../src/domain/errors';
import { readableConnection } from '../../src/domain/import/preview-m365-users';
import { queuePlan } from '../../src/domain/plans/plan-jobs';
import { planActions, planApiError, planChange, planRequestSchema, planWarnings } from '../../src/domain/plans/plan-changes';
import { planLifetimeSeconds, planPageSize, readPlan, readPlanJob, storePlan, type StoredPlanFailure } from '../../src/domain/plans/stored-plans';

const tags = ['plans'];
/** The plan request as one named component: the request body and every answer that repeats it. */
const planRequest = planRequestSchema.meta({ id: 'PlanRequest' });
const changeSchema = z.object({ attribute: z.string(), from: z.unknown(), to: z.unknown() });
const plannedAccountSchema = z.object({
  userId: z.string(),
  email: z.string(),
  m365UserId: z.string().optional(),
  userPrincipalName: z.string().optional(),
  action: z.enum(planActions),
  changes: z.array(changeSchema).meta({ description: 'Each attribute the write would set: what the account holds now (from) and what it would hold (to). manager: the manager\'s object id (or UPN to be created)' }),
  passwordSet: z.literal(true).optional(),
  warnings: z.array(z.enum(planWarnings)),
}).meta({ id: 'PlannedAccount' });

const plannedMembershipSchema = z.object({
  groupId: z.string(),
  m365GroupId: z.string().optional(),
  add: z.array(z.string()),
  remove: z.array(z.string()),
}).meta({ id: 'PlannedMembership' });

/** A stored plan without its accounts: what a guarded settings change answers with. */
export const planSummarySchema = z.object({
  id: z.string().meta({ description: 'The plan id: GET /connections/{id}/plans/{planId}; confirms a settings change as PATCH /connections/{id}?confirmPlan={planId}' }),
  connectionId: z.string(),
  kind: z.enum(['settings', 'bind', 'unbind', 'reconcile']),
  request: planRequest,
  createdAt: z.string(),
  expiresAt: z.string().meta({ description: `The plan can be read and confirmed for ${planLifetimeSeconds / 60} minutes` }),
  basedOn: z.string().meta({ description: 'The connection as planned against (its updatedAt); a plan of a connection changed since cannot be confirmed' }),
  guard: z
    .object({ changing: z.number().int(), limit: z.number().int(), exceeded: z.boolean() })
    .meta({ description: 'Accounts the change would write to (creates aside) against the connection\'s changeGuard limit; beyond it a settings change waits for the plan to be confirmed' }),
  totals: z.object({ users: z.number().int(), create: z.number().int(), takeOver: z.number().int(), update: z.number().int(), disable: z.number().int(), passwordSet: z.number().int(), manager: z.number().int(), memberAdd: z.number().int(), memberRemove: z.number().int(), unchanged: z.number().int() }),
  warnings: z.object({ privileged: z.number().int(), blanks_value: z.number().int(), upn_rename: z.number().int() }),
  graphReads: z.object({ userPages: z.number().int(), otherRequests: z.number().int() }),
  memberships: z.array(plannedMembershipSchema).meta({ description: 'Group bind: accounts (ids, or UPNs to be created) each Microsoft 365 group would gain and lose' }),
}).meta({ id: 'PlanSummary' });

const planSchema = planSummarySchema
  .extend({
    accounts: z.array(plannedAccountSchema).meta({ description: 'Only the accounts something would happen to' }),
    nextCursor: z.string().optional().meta({ description: 'GET only: the cursor of the next page of accounts' }),
  })
  .meta({ id: 'Plan' });

const planJobSchema = z
  .object({
    id: z.string(),
    connectionId: z.string(),
    request: planRequest,
    status: z.enum(['running', 'failed']),
    userPages: z.number().int().meta({ description: 'Progress: Graph list pages of the tenant\'s users read so far (999 users each)' }),
    error: z.object({ code: z.string(), message: z.string() }).optional().meta({ description: 'Why the plan could not be made (status failed)' }),
    createdAt: z.string(),
    expiresAt: z.string(),
  })
  .meta({ id: 'PlanJob' });

function storedPlanError(failure: StoredPlanFailure): ApiError {
  return failure.code === 'plan_not_found' ? new ApiError('NOT_FOUND', failure.message) : new ApiError('VALIDATION_FAILED', `query.cursor: ${failure.message}`, [{ field: 'query.cursor', message: failure.message }]);
}

export const planChangeRoute = defineRoute({
  name: 'plans-create',
  method: 'POST',
  route: 'connections/{id}/plan',
  auth: 'admin',
  summary: 'Plan a settings change, a bind, an unbind or a reconcile without making it: what each account would get, with totals and warnings; no Graph write. The plan is stored for an hour under its id',
  tags,
  params: z.strictObject({ id: z.string().min(1).max(128) }),
  body: planRequest,
  responses: {
    200: { description: 'The plan, with every account something would happen to', schema: planSchema },
    404: { description: 'No such connection, user or group', schema: errorSchema },
    409: { description: 'The connection is not authorized', schema: errorSchema },
    422: { description: 'Microsoft 365 refused a read', schema: errorSchema },
    503: { description: 'Microsoft 365 did not answer', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, body, services }) => {
    const plan = await planChange({ ...importsFor(services).worker }, params.id, body);
    if (!plan.ok) throw planApiError(plan.error);
    const stored = await storePlan(services, body, plan.value);
    return { status: 200, body: { ...stored, accounts: plan.value.accounts }, headers: { location: `/api/connections/${params.id}/plans/${stored.id}` } };
  },
});

export const queuePlanRoute = defineRoute({
  name: 'plans-queue',
  method: 'POST',
  route: 'connections/{id}/plans',
  auth: 'admin',
  summary: 'Make the same plan in the background (large tenants or binds): 202 with the job; GET the Location until it answers 200 with the plan',
  tags,
  params: z.strictObject({ id: z.string().min(1).max(128) }),
  body: planRequest,
  responses: {
    202: { description: 'The plan is being made', schema: planJobSchema },
    404: { description: 'No such connection', schema: errorSchema },
    409: { description: 'The connection is not authorized', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, body, services }) => {
    const readable = await readableConnection(services.store, params.id);
    if (!readable.ok) throw planApiError(readable.error);
    const job = await queuePlan(services, params.id, body);
    return { status: 202, body: job, headers: { location: `/api/connections/${params.id}/plans/${job.id}` } };
  },
});

export const getPlanRoute = defineRoute({
  name: 'plans-get',
  method: 'GET',
  route: 'connections/{id}/plans/{planId}',
  auth: 'reader',
  summary: `A stored plan, with a page of ${planPageSize} of its accounts (follow nextCursor for the rest); plans expire an hour after they are made`,
  tags,
  params: z.strictObject({ id: z.string().min(1).max(128), planId: z.string().min(1).max(128) }),
  query: z.strictObject({ cursor: cursorSchema.optional() }),
  responses: {
    200: { description: 'The plan and a page of its accounts', schema: planSchema },
    202: { description: 'A plan made in the background: still running (with progress), or failed (with the error)', schema: planJobSchema },
    404: { description: 'No such plan on this connection, or it expired', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, query, services }) => {
    const job = await readPlanJob(services, params.id, params.planId);
    if (job !== undefined) return { status: 202, body: job };
    const plan = await readPlan(services, params.id, params.planId, query.cursor);
    if (!plan.ok) throw storedPlanError(plan.error);
    return { status: 200, body: plan.value };
  },
});
