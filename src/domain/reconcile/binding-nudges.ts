import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { MessageSender } from '../ports/work-queue';
import type { UserBindingRecord } from '../provisioning/binding';
import { mutateUserBinding } from '../provisioning/binding-records';
import { nextChange, sendNudges, type NudgeReason, type UserNudge } from '../provisioning/nudges';
import { mapConcurrently } from './map-concurrently';

export interface NudgeDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly sender: MessageSender;
}

/** Store writes a reconcile run makes at once. */
const writeConcurrency = 8;

/** Whether the worker still has work of this binding to finish (a nudge is, or should be, on its way). */
export function hasOutstandingWork(binding: UserBindingRecord): boolean {
  return binding.changeSeq > binding.handledChangeSeq || binding.pendingWrite !== undefined;
}

/** The nudge of work already outstanding: the same change number, so a copy of a nudge still queued collapses with it. */
export function outstandingNudge(binding: UserBindingRecord): UserNudge {
  return { kind: 'user', connectionId: binding.connectionId, userId: binding.userId, changeSeq: binding.changeSeq, reason: 'retry', hop: 0 };
}

/**
 * Gives each binding a new change number, but only where it is still the one examined (same
 * incarnation and change number): a binding that changed meanwhile already has its own nudge.
 * Returns the nudges to send, in the order of `examined`, undefined where nothing was bumped.
 */
export async function bumpUnchanged(deps: NudgeDeps, examined: readonly Pick<UserBindingRecord, 'connectionId' | 'userId' | 'incarnation' | 'changeSeq'>[], reason: NudgeReason): Promise<(UserNudge | undefined)[]> {
  const now = deps.clock.now().toISOString();
  return mapConcurrently(examined, writeConcurrency, async (seen) => {
    let nudge: UserNudge | undefined;
    await mutateUserBinding(deps.store, seen.connectionId, seen.userId, (current) => {
      nudge = undefined;
      if (current === undefined || current.incarnation !== seen.incarnation || current.changeSeq !== seen.changeSeq) return undefined;
      nudge = { kind: 'user', connectionId: seen.connectionId, userId: seen.userId, changeSeq: current.changeSeq + 1, reason, hop: 0 };
      return { ...current, ...nextChange(current, reason), updatedAt: now };
    });
    return nudge;
  });
}

/** Sends nudges to the provisioning queue, a batch at a time. */
export async function sendAll(sender: MessageSender, nudges: readonly (UserNudge | undefined)[]): Promise<number> {
  const present = nudges.filter((n): n is UserNudge => n !== undefined);
  for (let i = 0; i < present.length; i += 100) await sendNudges(sender, present.slice(i, i + 100));
  return present.length;
}
