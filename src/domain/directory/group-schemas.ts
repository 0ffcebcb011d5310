import { z } from 'zod';

// Graph's limits for a security group's displayName and description.
const nameSchema = z.string().trim().min(1).max(256);
const descriptionSchema = z.string().trim().min(1).max(1024);

/** POST /api/groups and the automation `group.upsert` command. The name is unique regardless of case. */
export const createGroupSchema = z.strictObject({ name: nameSchema, description: descriptionSchema.optional() }).meta({ id: 'GroupCreate' });

/** PATCH /api/groups/{id}: given fields replace, `description: null` clears it. */
export const patchGroupSchema = z.strictObject({ name: nameSchema.optional(), description: descriptionSchema.nullable().optional() }).meta({ id: 'GroupPatch' });

export const groupSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'Group' });

/** A group's name, next to its id in a list (events); absent once the group is deleted. */
export const groupSummarySchema = groupSchema.pick({ name: true }).meta({ id: 'GroupSummary', description: 'The group as the directory holds it now; absent once the group is deleted' });

export type CreateGroupInput = z.output<typeof createGroupSchema>;
export type GroupPatch = z.output<typeof patchGroupSchema>;
export type Group = z.output<typeof groupSchema>;
