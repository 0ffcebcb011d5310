import type { z } from 'zod';
import { err, ok, type Result } from './result';

/** How the queue should settle a message a queue function handled. */
export type MessageSettlement = { readonly kind: 'complete'; readonly detail: string } | { readonly kind: 'dead_letter'; readonly reason: string };

/**
 * A message body read with its queue's schema, or the dead-letter settlement for a body that is not
 * one, naming the first problem and where it is (`not a <what> message: page: ...`).
 */
export function parseMessage<S extends z.ZodType>(schema: S, body: unknown, what: string): Result<z.output<S>, MessageSettlement> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0];
  return err({ kind: 'dead_letter', reason: `not ${what} message: ${issue === undefined ? 'invalid' : `${issue.path.join('.') || 'body'}: ${issue.message}`}` });
}
