import { z } from 'zod';

/** The error shape of every non-2xx JSON answer. */
export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
}).meta({ id: 'Error' });

/** Opaque paging cursor as it travels in a query string. */
export const cursorSchema = z.string().min(1).max(2048);

/** `limit` for list routes: default 50, at most 500. */
export const limitSchema = z.coerce.number().int().min(1).max(500).default(50);

export const idParamSchema = z.strictObject({ id: z.string().min(1).max(128) });

/** Standard error responses, merged into each route's own. */
export const errorResponses = {
  400: { description: 'Validation failed', schema: errorSchema },
  401: { description: 'Missing or invalid API key', schema: errorSchema },
  403: { description: 'The key lacks the role', schema: errorSchema },
} as const;

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().optional() });
}
