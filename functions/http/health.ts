import { z } from 'zod';
import { errorSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { checkHealth } from '../../src/app/health';
import { connectionStatuses } from '../../src/domain/connections/connection-state';

const checkSchema = z.object({ status: z.enum(['ok', 'down']), latencyMs: z.number(), error: z.string().optional() }).meta({ id: 'HealthCheck' });
const activitySchema = z
  .object({
    state: z.enum(['ok', 'failing', 'unknown']).meta({ description: '`failing` when the last recorded outcome is a failure; `unknown` before the first one' }),
    lastSuccessAt: z.string().optional(),
    lastFailureAt: z.string().optional(),
    lastFailure: z.object({ code: z.string(), message: z.string() }).optional(),
  })
  .meta({ id: 'ConnectionActivity', description: 'Recorded by the service as it works (each instance writes each record at most once a minute, so it lags by a minute at most); health itself calls neither Graph nor the authority' });
const connectionHealthSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    tenantId: z.string().optional(),
    status: z.enum(connectionStatuses),
    reauthorization: z.object({ code: z.string(), since: z.string() }).optional().meta({ description: 'When a Global Administrator must consent again' }),
    graph: activitySchema.meta({ description: 'Graph calls: a call fails on 401/403 after a fresh token, 429 or 5xx after the retries, or no answer' }),
    tokenRefresh: activitySchema.meta({ description: 'Refreshes at the token endpoint (tokens served from the cache do not count)' }),
  })
  .meta({ id: 'ConnectionHealth' });
const healthSchema = z.object({
  status: z.enum(['ok', 'down']),
  checks: z.record(z.string(), checkSchema).optional().meta({ description: 'With an API key only: store, queue and secrets, each probed with a cheap round trip' }),
  connections: z
    .object({
      total: z.number().int().meta({ description: 'Connections that are active, sync_paused or reauthorization_required' }),
      reauthorizationRequired: z.number().int(),
      failing: z.number().int().meta({ description: 'Among items: connections whose last Graph call or last token refresh failed' }),
      items: z.array(connectionHealthSchema).meta({ description: 'The first 200 by name' }),
    })
    .optional()
    .meta({ description: 'With an API key only. A failing connection is an alert, not an outage: status stays ok' }),
}).meta({ id: 'Health' });

export const health = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  auth: 'optional',
  summary: 'Overall status without a key; with any API key the check of each dependency and, per connection, the last Graph call and token refresh. 503 when a dependency is down',
  tags: ['operations'],
  responses: {
    200: { description: 'Every dependency answers', schema: healthSchema },
    401: { description: 'An API key was presented and is not valid', schema: errorSchema },
    503: { description: 'A dependency is down', schema: healthSchema },
  },
  handler: async ({ services, caller }) => {
    const report = await checkHealth(services, { details: caller !== undefined });
    return { status: report.status === 'ok' ? 200 : 503, body: report };
  },
});
