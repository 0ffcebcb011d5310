import { z } from 'zod';
import { defineRoute } from '../../src/app/http/route';
import { checkHealth } from '../../src/app/health';

const checkSchema = z.object({ status: z.enum(['ok', 'down']), latencyMs: z.number(), error: z.string().optional() });
const reauthorizationSchema = z.object({ id: z.string(), name: z.string(), tenantId: z.string().optional(), code: z.string(), since: z.string() });
const healthSchema = z.object({
  status: z.enum(['ok', 'down']),
  checks: z.record(z.string(), checkSchema),
  connections: z.object({ reauthorizationRequired: z.number().int(), items: z.array(reauthorizationSchema) }).optional(),
}).meta({ id: 'Health' });

export const health = defineRoute({
  name: 'health',
  method: 'GET',
  route: 'health',
  auth: 'none',
  summary: 'Per-dependency health; 503 when a dependency is down',
  tags: ['operations'],
  responses: { 200: { description: 'Every dependency answers', schema: healthSchema }, 503: { description: 'A dependency is down', schema: healthSchema } },
  handler: async ({ services }) => {
    const report = await checkHealth(services);
    return { status: report.status === 'ok' ? 200 : 503, body: report };
  },
});
