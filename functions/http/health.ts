import { z } from 'zod';
import { errorSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { checkHealth } from '../../src/app/health';

const checkSchema = z.object({ status: z.enum(['ok', 'down']), latencyMs: z.number(), error: z.string().optional() });
const reauthorizationSchema = z.object({ id: z.string(), name: z.string(), tenantId: z.string().optional(), code: z.string(), since: z.string() });
const healthSchema = z.object({
  status: z.enum(['ok', 'down']),
  checks: z.record(z.string(), checkSchema).optional().meta({ description: 'With an API key only' }),
  connections: z.object({ reauthorizationRequired: z.number().int(), items: z.array(reauthorizationSchema) }).optional().meta({ description: 'With an API key only' }),
}).meta({ id: 'Health' });

export const health = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  auth: 'optional',
  summary: 'Overall status without a key; per-dependency checks and connections awaiting re-consent with any API key. 503 when a dependency is down',
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
