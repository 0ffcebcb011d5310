import { z } from 'zod';
import { errorResponses } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { notificationReceiverFor } from '../../src/app/notification-services';
import { ApiError } from '../../src/domain/errors';
import { notificationCollectionSchema } from '../../src/domain/notifications/receive-notifications';

/**
 * Microsoft Graph's change notifications and lifecycle events for every connection. No API key:
 * Graph cannot send one; each item proves itself with its subscription's clientState instead.
 */
export const notificationsRoute = defineRoute({
  name: 'notifications',
  method: 'POST',
  route: 'notifications',
  auth: 'none',
  summary: 'Microsoft Graph change notifications: the validation handshake, changes of bound users and groups (nudged for correction), and lifecycle events',
  tags: ['notifications'],
  query: z.object({ validationToken: z.string().min(1).max(4096).optional().meta({ description: 'Sent by Graph when a subscription is created; echoed as text/plain' }) }),
  body: notificationCollectionSchema.optional(),
  responses: {
    200: { description: 'The validation token, echoed', contentType: 'text/plain', schema: z.string() },
    202: { description: 'Accepted: items about bound objects were nudged; the rest (unknown subscription, wrong clientState, unbound object) ignored' },
    ...errorResponses,
  },
  handler: async ({ query, body, services, log }) => {
    // Graph waits at most 10 s for the echo: nothing else is done for a validation request.
    if (query.validationToken !== undefined) return { status: 200, text: query.validationToken };
    if (body === undefined) throw new ApiError('VALIDATION_FAILED', 'body: a notification collection {"value": [...]} or a validationToken is required', [{ field: 'body', message: 'required' }]);
    const report = await notificationReceiverFor(services).receive(body);
    if (report.rejected > 0) log.warn('change notifications rejected', { ...report });
    else log.debug('change notifications received', { ...report });
    return { status: 202 };
  },
});
