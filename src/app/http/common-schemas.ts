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

/**
 * `limit` for list routes: default 50, at most 500, in plain decimal digits only (`0x10`, `+7`,
 * ` 5` or `1e1` are refused, not coerced). Documented as the integer it is.
 */
export const limitSchema = z
  .preprocess((value) => (typeof value === 'string' && /^[0-9]{1,3}$/.test(value) ? Number(value) : value), z.number({ error: 'must be a whole number from 1 to 500, in plain digits' }).int().min(1, 'must be from 1 to 500').max(500, 'must be from 1 to 500'))
  .default(50);

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
