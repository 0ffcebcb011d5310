import { randomUUID } from 'node:crypto';
import type { DocumentStore, StoredDocument } from '../ports/document-store';
import type { BindingError } from '../provisioning/binding';
import { mutateDocument } from '../provisioning/binding-records';
import type { ProvisioningEventType } from '../provisioning/provisioning-events';
import type { M365GroupPatch, MemberChange } from './m365-group-gateway';

/** An attribute write that was started and not yet confirmed, with the events it records (see provision-user's PendingWrite). */
export interface GroupPendingWrite {
  readonly seq: number;
  readonly attributes: M365GroupPatch;
  readonly events: readonly { readonly type: ProvisioningEventType; readonly version: string; readonly changedAttributes: readonly string[] }[];
}

/**
 * A membership pass in progress: the changes counted so far, and the chunk sent to Graph whose answer
 * is not recorded yet. A run that dies mid-pass is finished by the next one under the same event id,
 * with the chunk counted by what the group holds afterwards.
 */
export interface PendingMemberPass {
  readonly seq: number;
  readonly added: number;
  readonly removed: number;
  readonly inFlight?: readonly MemberChange[];
}

/**
 * How a bound directory group is kept as a Microsoft 365 security group on one connection
 * (container `bindings`, pk = connection id, id `m365group:<groupId>`). Lives beside the group binding:
 * it outlives the binding's expansion runs and is removed once an unbound group was let go.
 */
export interface GroupSyncRecord {
  readonly kind: 'm365group';
  readonly connectionId: string;
  readonly groupId: string;
  /** Random per record, so the event ids of an earlier link never collide with this one's. */
  readonly incarnation: string;
  /** Bumped by every change that matters (bind, unbind, membership, rename, reconcile); each bump sends one nudge. */
  readonly changeSeq: number;
  /** The changeSeq the last finished run started from; older nudges are stale. */
  readonly handledChangeSeq: number;
  readonly m365GroupId?: string;
  /** The group binding's import anchor (its `m365GroupId`) this record was last linked to, once honoured. */
  readonly anchor?: string;
  /** Groups linked so far (created or taken over); names the create event of each link. */
  readonly linkCount: number;
  /** Attribute writes confirmed so far; names the update events. */
  readonly writeSeq: number;
  readonly pendingWrite?: GroupPendingWrite;
  /** Membership passes that changed something; names the membership events. */
  readonly memberPassSeq: number;
  readonly pendingMembers?: PendingMemberPass;
  /** Digest of the member ids the last complete pass made the group hold; the reconciler compares it. */
  readonly membersDigest?: string;
  readonly lastError?: BindingError;
  /** Failed attempts since the last success. */
  readonly attempts: number;
  readonly lastSyncedAt?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function groupSyncRecordId(groupId: string): string {
  return `m365group:${groupId}`;
}

export function readGroupSyncRecord(store: DocumentStore, connectionId: string, groupId: string): Promise<StoredDocument<GroupSyncRecord> | undefined> {
  return store.get<GroupSyncRecord>('bindings', connectionId, groupSyncRecordId(groupId));
}

export function mutateGroupSyncRecord(
  store: DocumentStore,
  connectionId: string,
  groupId: string,
  change: (current: GroupSyncRecord | undefined) => GroupSyncRecord | undefined,
): Promise<StoredDocument<GroupSyncRecord> | undefined> {
  return mutateDocument<GroupSyncRecord>(store, 'bindings', connectionId, groupSyncRecordId(groupId), change);
}

/** Every group sync record of a connection. */
export async function groupSyncRecordsOf(store: DocumentStore, connectionId: string): Promise<GroupSyncRecord[]> {
  const found: GroupSyncRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.query<GroupSyncRecord>('bindings', { pk: connectionId, where: [{ field: 'kind', op: 'eq', value: 'm365group' }], limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
    found.push(...page.items.map((doc) => doc.data));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return found;
}

export function newGroupSyncRecord(connectionId: string, groupId: string, now: string): GroupSyncRecord {
  return {
    kind: 'm365group',
    connectionId,
    groupId,
    incarnation: randomUUID(),
    changeSeq: 0,
    handledChangeSeq: 0,
    linkCount: 0,
    writeSeq: 0,
    memberPassSeq: 0,
    attempts: 0,
    createdAt: now,
    updatedAt: now,
  };
}
