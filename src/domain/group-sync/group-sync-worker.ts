import type { DeliveredMessage } from '../ports/work-queue';
import { parseMessage, type MessageSettlement } from '../queue-messages';
import { groupSyncMessage, groupSyncNudgeSchema } from './group-sync-nudges';
import { syncGroup, type GroupSyncDeps } from './sync-group';

/**
 * Handles one message of the `group-sync` queue. Waiting, retrying and looking again never sleep:
 * the nudge is sent once more with a scheduled enqueue time (one more hop, so its id is new) and
 * this one completes. A surprise is thrown for the queue to redeliver.
 */
export async function handleGroupSyncMessage(deps: GroupSyncDeps, delivered: DeliveredMessage): Promise<MessageSettlement> {
  const parsed = parseMessage(groupSyncNudgeSchema, delivered.body, 'a group-sync');
  if (!parsed.ok) return parsed.error;
  const nudge = parsed.value;
  const outcome = await syncGroup(deps, nudge);
  if (outcome.kind === 'again') {
    await deps.sender.send('group-sync', [groupSyncMessage({ ...nudge, hop: nudge.hop + 1 }, new Date(outcome.untilMs))]);
  }
  return { kind: 'complete', detail: outcome.detail };
}
