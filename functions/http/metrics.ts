import { z } from 'zod';
import { defineRoute } from '../../src/app/http/route';
import { errorResponses } from '../../src/app/http/common-schemas';

export const metricsRoute = defineRoute({
  name: 'metrics',
  method: 'GET',
  route: 'metrics',
  auth: 'reader',
  summary: 'Service metrics in the Prometheus text format (the same OpenTelemetry meters that are exported over OTLP)',
  tags: ['operations'],
  responses: { 200: { description: 'Prometheus text exposition format 0.0.4', contentType: 'text/plain', schema: z.string() }, ...errorResponses },
  handler: async ({ services }) => ({ status: 200, text: await services.telemetry.prometheusText(), headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }),
});
