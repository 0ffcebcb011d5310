import { createHash } from 'node:crypto';
import type { DocumentStore } from '../ports/document-store';
import { isBound, type UserBindingRecord } from '../provisioning/binding';

/** The store's largest page: one memberships query and one bindings read per this many members. */
const membersPerRead = 1000;

/**
 * What the Microsoft 365 group of a directory group should hold on one connection, in account ids
 * (lower case):
 * - `include`: members bound here and provisioned; they belong in the group.
 * - `keep`: members whose account exists but whose binding is pending or in error; left as they are,
 *   so a failed update elsewhere never costs a member its groups.
 * Everyone else (unbound, suspended, bound elsewhere, not a member) does not belong.
 * `settling` counts members whose provisioning has work outstanding: the group is looked at again
 * once they are done.
 */
export interface DesiredMembers {
  readonly include: ReadonlySet<string>;
  readonly keep: ReadonlySet<string>;
  readonly settling: number;
}

interface MembershipRecord {
  readonly userId: string;
}

function hasWorkOutstanding(binding: UserBindingRecord): boolean {
  return binding.state === 'pending' || binding.changeSeq > binding.handledChangeSeq || binding.pendingWrite !== undefined;
}

/** Reads the directory group's members and their bindings on the connection, a page at a time. */
export async function desiredMembers(store: DocumentStore, connectionId: string, groupId: string): Promise<DesiredMembers> {
  const include = new Set<string>();
  const keep = new Set<string>();
  let settling = 0;
  let cursor: string | undefined;
  do {
    const page = await store.query<MembershipRecord>('memberships', { pk: groupId, limit: membersPerRead, ...(cursor === undefined ? {} : { cursor }) });
    const bindings = await store.getMany<UserBindingRecord>('bindings', connectionId, page.items.map((doc) => doc.data.userId));
    for (const { data: binding } of bindings) {
      if (binding.kind !== 'user' || !isBound(binding.via)) continue;
      if (hasWorkOutstanding(binding)) settling += 1;
      if (binding.m365UserId === undefined) continue;
      const accountId = binding.m365UserId.toLowerCase();
      if (binding.state === 'provisioned') include.add(accountId);
      else if (binding.state === 'pending' || binding.state === 'error') keep.add(accountId);
    }
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return { include, keep, settling };
}

/** A digest of the member ids a group should hold, to tell cheaply whether that changed since. */
export function membersDigest(include: ReadonlySet<string>): string {
  return createHash('sha256').update([...include].sort().join('\n')).digest('base64url');
}
