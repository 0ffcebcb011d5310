import { z } from 'zod';
import { errorResponses, errorSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { importsFor } from '../../src/app/import-services';
import { planActions, planApiError, planChange, planRequestSchema, planWarnings } from '../../src/domain/plans/plan-changes';

const changeSchema = z.object({ attribute: z.string(), from: z.unknown(), to: z.unknown() });
const plannedAccountSchema = z.object({
  userId: z.string(),
  email: z.string(),
  m365UserId: z.string().optional(),
  userPrincipalName: z.string().optional(),
  action: z.enum(planActions),
  changes: z.array(changeSchema).meta({ description: 'Each attribute the write would set: what the account holds now (from) and what it would hold (to)' }),
  passwordSet: z.literal(true).optional(),
  warnings: z.array(z.enum(planWarnings)),
});
const planSchema = z.object({
  connectionId: z.string(),
  kind: z.enum(['settings', 'bind', 'unbind', 'reconcile']),
  createdAt: z.string(),
  totals: z.object({ users: z.number().int(), create: z.number().int(), takeOver: z.number().int(), update: z.number().int(), disable: z.number().int(), passwordSet: z.number().int(), unchanged: z.number().int() }),
  warnings: z.object({ privileged: z.number().int(), blanks_value: z.number().int(), upn_rename: z.number().int() }),
  graphReads: z.object({ userPages: z.number().int(), otherRequests: z.number().int() }),
  accounts: z.array(plannedAccountSchema).meta({ description: 'Only the accounts something would happen to' }),
});

export const planChangeRoute = defineRoute({
  name: 'plans-create',
  method: 'POST',
  route: 'connections/{id}/plan',
  auth: 'admin',
  summary: 'Plan a settings change, a bind, an unbind or a reconcile without making it: what each account would get, with totals and warnings; no Graph write',
  tags: ['plans'],
  params: z.strictObject({ id: z.string().min(1).max(128) }),
  body: planRequestSchema,
  responses: {
    200: { description: 'The plan', schema: planSchema },
    404: { description: 'No such connection, user or group', schema: errorSchema },
    409: { description: 'The connection is not authorized', schema: errorSchema },
    422: { description: 'Microsoft 365 refused a read', schema: errorSchema },
    503: { description: 'Microsoft 365 did not answer', schema: errorSchema },
    ...errorResponses,
  },
  handler: async ({ params, body, services }) => {
    const plan = await planChange({ ...importsFor(services).worker }, params.id, body);
    if (!plan.ok) throw planApiError(plan.error);
    return { status: 200, body: plan.value };
  },
});
