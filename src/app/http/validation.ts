import type { ZodError, ZodType } from 'zod';
import { ApiError, type ErrorDetail } from '../../domain/errors';

type Part = 'body' | 'query' | 'params' | 'message';

function fieldOf(part: Part, path: readonly PropertyKey[]): string {
  return [part, ...path.map(String)].join('.');
}

/** Turns zod issues into error details that name the field (`body.email`). */
export function zodDetails(part: Part, error: ZodError): ErrorDetail[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return { field: fieldOf(part, [...issue.path, issue.keys.join(',')]), message: `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` };
    }
    return { field: fieldOf(part, issue.path), message: issue.message };
  });
}

/** Validates `value` against `schema`; a failure is a VALIDATION_FAILED ApiError naming the first field. */
export function validate<T>(part: Part, schema: ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = zodDetails(part, result.error);
  const first = details[0];
  throw new ApiError('VALIDATION_FAILED', first === undefined ? `invalid ${part}` : `${first.field}: ${first.message}`, details);
}
