import { z } from 'zod';
import { ApiError } from '../../src/domain/errors';
import { queueNames } from '../../src/domain/ports/work-queue';
import type { DeadLetter } from '../../src/domain/ports/dead-letters';
import { defineRoute } from '../../src/app/http/route';
import { cursorSchema, errorResponses, errorSchema, limitSchema, pageSchema } from '../../src/app/http/common-schemas';

const queueSchema = z.enum(queueNames);
const deadLetterParams = z.strictObject({ queue: queueSchema, id: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'must be a dead-letter id as listed') });

const deadLetterView = z.object({
  id: z.string(),
  queue: queueSchema,
  messageId: z.string(),
  sessionId: z.string().optional(),
  body: z.unknown(),
  enqueuedAt: z.string(),
  deliveryCount: z.number().int(),
  reason: z.string(),
  deadLetteredAt: z.string().optional(),
}).meta({ id: 'DeadLetter' });

/** Allow-listed fields; the body was redacted when the message was set aside (or on read, for the broker's). */
function toView(queue: (typeof queueNames)[number], dead: DeadLetter): z.infer<typeof deadLetterView> {
  return {
    id: dead.id,
    queue,
    messageId: dead.messageId,
    ...(dead.sessionId === undefined ? {} : { sessionId: dead.sessionId }),
    body: dead.body,
    enqueuedAt: dead.enqueuedAt.toISOString(),
    deliveryCount: dead.deliveryCount,
    reason: dead.reason,
    ...(dead.deadLetteredAt === undefined ? {} : { deadLetteredAt: dead.deadLetteredAt.toISOString() }),
  };
}

export const listDeadLettersRoute = defineRoute({
  name: 'dead-letters-list',
  method: 'GET',
  route: 'dead-letters',
  auth: 'reader',
  summary: 'List the dead letters of a work queue, with why each was set aside',
  tags: ['operations'],
  query: z.strictObject({ queue: queueSchema, limit: limitSchema, cursor: cursorSchema.optional() }),
  responses: { 200: { description: 'Dead letters of the queue', schema: pageSchema(deadLetterView) }, ...errorResponses },
  handler: async ({ query, services }) => {
    const page = await services.deadLetters.deadLetters(query.queue, { limit: query.limit, ...(query.cursor === undefined ? {} : { cursor: query.cursor }) });
    const items = page.items.map((dead) => toView(query.queue, dead));
    return { status: 200, body: page.nextCursor === undefined ? { items } : { items, nextCursor: page.nextCursor } };
  },
});

export const resubmitDeadLetterRoute = defineRoute({
  name: 'dead-letters-resubmit',
  method: 'POST',
  route: 'dead-letters/{queue}/{id}/resubmit',
  auth: 'admin',
  summary: 'Send a dead letter back to its queue (under a new message id) and remove it',
  tags: ['operations'],
  params: deadLetterParams,
  responses: { 202: { description: 'Back on the queue', schema: z.object({ resubmitted: z.literal(true) }) }, 404: { description: 'No such dead letter', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, services, log }) => {
    if (!(await services.deadLetters.resubmitDeadLetter(params.queue, params.id))) throw new ApiError('NOT_FOUND', `dead letter ${params.id} of queue ${params.queue} not found`);
    log.info('dead letter resubmitted', { queue: params.queue, deadLetterId: params.id });
    return { status: 202, body: { resubmitted: true } };
  },
});

export const deleteDeadLetterRoute = defineRoute({
  name: 'dead-letters-delete',
  method: 'DELETE',
  route: 'dead-letters/{queue}/{id}',
  auth: 'admin',
  summary: 'Remove a dead letter for good',
  tags: ['operations'],
  params: deadLetterParams,
  responses: { 204: { description: 'Removed' }, 404: { description: 'No such dead letter', schema: errorSchema }, ...errorResponses },
  handler: async ({ params, services, log }) => {
    if (!(await services.deadLetters.deleteDeadLetter(params.queue, params.id))) throw new ApiError('NOT_FOUND', `dead letter ${params.id} of queue ${params.queue} not found`);
    log.info('dead letter deleted', { queue: params.queue, deadLetterId: params.id });
    return { status: 204 };
  },
});
