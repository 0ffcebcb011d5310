import { z } from 'zod';
import type { OutgoingMessage } from '../ports/work-queue';
import { idsPerLookup } from './m365-directory';

const position = {
  jobId: z.string().min(1).max(64),
  stream: z.number().int().min(0),
  page: z.number().int().min(0),
  /** Reschedules of this page (each is a new message id). */
  hop: z.number().int().min(0).default(0),
  /** Failed reads of this page so far; after the limit its stream ends in error. */
  attempts: z.number().int().min(0).default(0),
};

// Graph's page links are a few hundred characters; the bound only stops nonsense.
const link = z.string().min(1).max(4096);

/**
 * One page of an import job's work on the `imports` queue. A page names its position and, for
 * pages after the first, Graph's link to read; the job document holds the rest (filter, groups).
 */
export const importMessageSchema = z.discriminatedUnion('kind', [
  /** A chunk of ids: one page, read with one `$batch`. */
  z.strictObject({ kind: z.literal('ids'), ...position, ids: z.array(z.string().min(1).max(64)).min(1).max(idsPerLookup) }),
  /** A page of the tenant's users, for a filter import. */
  z.strictObject({ kind: z.literal('filter'), ...position, link: link.optional() }),
  /** A page of members of the stream's group; `groupId` is the directory group once page 0 has settled it. */
  z.strictObject({ kind: z.literal('group'), ...position, groupId: z.string().min(1).max(128).optional(), link: link.optional() }),
]);

export type ImportMessage = z.output<typeof importMessageSchema>;

/** One id per page (and per reschedule), so a page sent twice collapses into one message. */
export function importMessageId(message: ImportMessage): string {
  const base = `import:${message.jobId}:${message.stream}:${message.page}`;
  return message.hop === 0 ? base : `${base}~${message.hop}`;
}

export function toOutgoing(message: ImportMessage, scheduledEnqueueTime?: Date): OutgoingMessage {
  return { messageId: importMessageId(message), body: message, ...(scheduledEnqueueTime === undefined ? {} : { scheduledEnqueueTime }) };
}
