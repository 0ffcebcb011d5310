import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { MessageSender, OutgoingMessage } from '../ports/work-queue';

/** Why a user nudge was sent; a label for logs, never what to write. */
export const nudgeReasons = ['bind', 'unbind', 'user_changed', 'suspend', 'activate', 'password', 'group_membership', 'user_deleted', 'manager_linked', 'retry', 'reconcile', 'notification', 'grace_expired'] as const;
export type NudgeReason = (typeof nudgeReasons)[number];

/**
 * The next change number of a binding, for `reason`: anything but an edit of the user's own
 * attributes is a change the guard counts, so it moves `guardedChangeSeq` along.
 */
export function nextChange(current: { readonly changeSeq: number }, reason: NudgeReason): { changeSeq: number; guardedChangeSeq?: number } {
  const changeSeq = current.changeSeq + 1;
  return reason === 'user_changed' ? { changeSeq } : { changeSeq, guardedChangeSeq: changeSeq };
}

/**
 * "Reconcile user U on connection C": the worker reads what to do from the directory and the
 * binding. `changeSeq` is the binding's change counter when it was sent, so a nudge the worker has
 * already handled is dropped without calling Graph. `hop` counts reschedules of one nudge.
 */
export const userNudgeSchema = z.strictObject({
  kind: z.literal('user'),
  connectionId: z.string().min(1).max(128),
  userId: z.string().min(1).max(128),
  changeSeq: z.number().int().min(0),
  reason: z.enum(nudgeReasons),
  hop: z.number().int().min(0).default(0),
});

/** Binds or releases the members of a bound group, one page per message. */
export const groupNudgeSchema = z.strictObject({
  kind: z.literal('group'),
  connectionId: z.string().min(1).max(128),
  groupId: z.string().min(1).max(128),
  op: z.enum(['bind', 'unbind']),
  /** Names this expansion run, so its page messages collapse with their own duplicates only. */
  run: z.string().min(1).max(64),
  cursor: z.string().max(4096).optional(),
  page: z.number().int().min(0).default(0),
  hop: z.number().int().min(0).default(0),
});

export const provisioningMessageSchema = z.discriminatedUnion('kind', [userNudgeSchema, groupNudgeSchema]);

export type UserNudge = z.output<typeof userNudgeSchema>;
export type GroupNudge = z.output<typeof groupNudgeSchema>;
export type ProvisioningMessage = z.output<typeof provisioningMessageSchema>;

// Service Bus message ids are at most 128 characters.
export function boundedId(id: string): string {
  return id.length <= 128 ? id : `h:${createHash('sha256').update(id).digest('base64url')}`;
}

/** The message id of a nudge: one per change (and per reschedule), so duplicates of it collapse. */
export function messageIdOf(message: ProvisioningMessage): string {
  const base =
    message.kind === 'user'
      ? `${message.connectionId}:${message.userId}:${message.changeSeq}`
      : `${message.connectionId}:group:${message.groupId}:${message.op}:${message.run}:${message.page}`;
  return boundedId(message.hop === 0 ? base : `${base}~${message.hop}`);
}

/** The session of a nudge: one user's (or one group's) work runs in order, never concurrently. */
export function sessionIdOf(message: ProvisioningMessage): string {
  return message.kind === 'user' ? message.userId : `group:${message.groupId}`;
}

export function toOutgoing(message: ProvisioningMessage, scheduledEnqueueTime?: Date): OutgoingMessage {
  return {
    messageId: messageIdOf(message),
    sessionId: sessionIdOf(message),
    body: message,
    ...(scheduledEnqueueTime === undefined ? {} : { scheduledEnqueueTime }),
  };
}

export async function sendNudges(sender: MessageSender, messages: readonly ProvisioningMessage[]): Promise<void> {
  if (messages.length === 0) return;
  await sender.send('provisioning', messages.map((m) => toOutgoing(m)));
}
