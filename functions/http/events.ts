import { z } from 'zod';
import { cursorSchema, errorResponses, limitSchema, pageSchema } from '../../src/app/http/common-schemas';
import { defineRoute } from '../../src/app/http/route';
import { groupSummarySchema } from '../../src/domain/directory/group-schemas';
import { userSummarySchema } from '../../src/domain/directory/user-schemas';
import { listEvents, provisioningEventTypes } from '../../src/domain/provisioning/provisioning-events';

const eventSchema = z.object({
  id: z.string(),
  type: z.enum(provisioningEventTypes),
  connectionId: z.string(),
  userId: z.string().optional(),
  user: userSummarySchema.optional(),
  groupId: z.string().optional(),
  group: groupSummarySchema.optional(),
  m365UserId: z.string().optional(),
  m365GroupId: z.string().optional(),
  changedAttributes: z.array(z.string()).meta({ description: 'Names of the attributes written, never their values' }),
  addedMembers: z.number().int().optional().meta({ description: 'group_membership_provision: members added to the Microsoft 365 group' }),
  removedMembers: z.number().int().optional().meta({ description: 'group_membership_provision: members removed from the Microsoft 365 group' }),
  addedLicenses: z.array(z.string()).optional().meta({ description: 'user_license_provision: SKU part numbers assigned' }),
  removedLicenses: z.array(z.string()).optional().meta({ description: 'user_license_provision: SKU part numbers removed' }),
  restored: z.boolean().optional().meta({ description: 'user_create_provision: the account deleted after its grace period was restored with its object id' }),
  sessionsRevoked: z.boolean().optional().meta({ description: "user_deprovision: the account's sign-in sessions were revoked with it" }),
  at: z.string(),
}).meta({ id: 'Event' });

// Normalised to full ISO instants so they compare with the stored `at` as strings.
const instant = z.iso.datetime({ offset: true }).or(z.iso.date()).transform((value) => new Date(value).toISOString());

export const listEventsRoute = defineRoute({
  name: 'events-list',
  method: 'GET',
  route: 'events',
  auth: 'reader',
  summary: 'Provisioning events (successes), newest first',
  tags: ['events'],
  query: z.strictObject({
    connectionId: z.string().min(1).max(128).optional(),
    userId: z.string().min(1).max(128).optional(),
    type: z.enum(provisioningEventTypes).optional(),
    since: instant.optional().meta({ description: 'ISO 8601 instant or date, inclusive' }),
    until: instant.optional().meta({ description: 'ISO 8601 instant or date, inclusive' }),
    limit: limitSchema,
    cursor: cursorSchema.optional(),
  }),
  responses: { 200: { description: 'A page of events', schema: pageSchema(eventSchema) }, ...errorResponses },
  handler: async ({ query, services }) => ({ status: 200, body: await listEvents(services, query) }),
});
