import { z } from 'zod';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { MessageSender, OutgoingMessage } from '../ports/work-queue';
import { boundedId } from '../provisioning/nudges';
import { mutateGroupSyncRecord, newGroupSyncRecord } from './group-sync-record';

/** Why a group sync was asked for; a label for logs, never what to write. */
export const groupSyncReasons = ['bind', 'unbind', 'membership', 'group_changed', 'member_state', 'reconcile', 'notification'] as const;
export type GroupSyncReason = (typeof groupSyncReasons)[number];

/**
 * "Bring group G on connection C in step" (queue `group-sync`, one session per group and connection).
 * `changeSeq` is the record's change counter when sent, so a nudge a later run already covered is
 * dropped without calling Graph; `incarnation` names the record, whose counter starts over when a
 * group is bound again. `hop` counts reschedules of one nudge.
 */
export const groupSyncNudgeSchema = z.strictObject({
  kind: z.literal('group-sync'),
  connectionId: z.string().min(1).max(128),
  groupId: z.string().min(1).max(128),
  incarnation: z.string().min(1).max(64),
  changeSeq: z.number().int().min(0),
  reason: z.enum(groupSyncReasons),
  hop: z.number().int().min(0).default(0),
});

export type GroupSyncNudge = z.output<typeof groupSyncNudgeSchema>;

export function groupSyncMessage(nudge: GroupSyncNudge, scheduledEnqueueTime?: Date): OutgoingMessage {
  const base = `${nudge.connectionId}:${nudge.groupId}:${nudge.incarnation}:${nudge.changeSeq}`;
  return {
    messageId: boundedId(nudge.hop === 0 ? base : `${base}~${nudge.hop}`),
    sessionId: boundedId(`${nudge.connectionId}:${nudge.groupId}`),
    body: nudge,
    ...(scheduledEnqueueTime === undefined ? {} : { scheduledEnqueueTime }),
  };
}

export interface GroupSyncNudgeDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly sender: MessageSender;
}

/**
 * Bumps the group's sync record (creating it on first use) and sends the nudge. Many nudges in a
 * burst cost one or two runs: a run covers every bump made before it started.
 */
export async function nudgeGroupSync(deps: GroupSyncNudgeDeps, connectionId: string, groupId: string, reason: GroupSyncReason): Promise<void> {
  const now = deps.clock.now().toISOString();
  const stored = await mutateGroupSyncRecord(deps.store, connectionId, groupId, (current) => {
    const record = current ?? newGroupSyncRecord(connectionId, groupId, now);
    return { ...record, changeSeq: record.changeSeq + 1, updatedAt: now };
  });
  const { incarnation, changeSeq } = (stored as NonNullable<typeof stored>).data;
  await deps.sender.send('group-sync', [groupSyncMessage({ kind: 'group-sync', connectionId, groupId, incarnation, changeSeq, reason, hop: 0 })]);
}
