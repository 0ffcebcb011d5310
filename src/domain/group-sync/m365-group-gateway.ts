import type { GatewayFailure, GatewayResult } from '../provisioning/m365-user-gateway';

/** Graph's limit of requests in one `$batch`: member changes go in chunks of this many. */
export const maxMemberChangesPerCall = 20;

/** A Microsoft 365 group as group sync reads it. */
export interface M365Group {
  readonly id: string;
  readonly displayName: string;
  readonly mailNickname: string;
  readonly description: string | null;
  readonly securityEnabled: boolean;
  readonly mailEnabled: boolean;
  readonly groupTypes: readonly string[];
}

/** A new security group: Graph's required set, with `mailEnabled: false, securityEnabled: true` added by the gateway. */
export interface NewM365SecurityGroup {
  readonly displayName: string;
  readonly mailNickname: string;
  readonly description?: string;
}

/** The attributes group sync writes after creation (mailNickname never changes). */
export interface M365GroupPatch {
  readonly displayName?: string;
  readonly description?: string | null;
}

export interface MemberChange {
  readonly op: 'add' | 'remove';
  /** Object id of the member (a user). */
  readonly memberId: string;
}

/**
 * The answer to one member change. `unchanged`: adding a member that is there already, or removing
 * one that is not (Graph's "already exist" and 404 answers).
 */
export type MemberChangeResult =
  | { readonly change: MemberChange; readonly status: 'applied' | 'unchanged' }
  | { readonly change: MemberChange; readonly status: 'failed'; readonly failure: GatewayFailure };

/** One group of a `groups/delta` page. Member ids come from `members@delta`. */
export interface GroupDeltaItem {
  readonly id: string;
  /** Deleted in Microsoft 365 (`@removed`). */
  readonly removed: boolean;
  /** Present when the page carried it. */
  readonly displayName?: string;
  readonly description?: string | null;
  readonly membersAdded: readonly string[];
  readonly membersRemoved: readonly string[];
}

/** A page of a delta round, or `expired`: the link is no longer valid and a full round must start over. */
export type GroupDeltaPage =
  | { readonly kind: 'page'; readonly items: readonly GroupDeltaItem[]; readonly nextLink?: string; readonly deltaLink?: string }
  | { readonly kind: 'expired' };

/** Microsoft 365 groups of one connection's tenant (Graph `groups`). Ids are returned in lower case. */
export interface M365GroupGateway {
  /** Groups whose displayName or mailNickname equals the given one. */
  findByNameOrNickname(displayName: string, mailNickname: string): Promise<GatewayResult<M365Group[]>>;
  /** `not_found` when the group does not exist (any more). */
  get(id: string): Promise<GatewayResult<M365Group>>;
  createSecurityGroup(group: NewM365SecurityGroup): Promise<GatewayResult<M365Group>>;
  update(id: string, patch: M365GroupPatch): Promise<GatewayResult<void>>;
  /** Deleting a group that is gone already succeeds. */
  delete(id: string): Promise<GatewayResult<void>>;
  /** Object ids of the group's direct members. */
  memberIds(id: string): Promise<GatewayResult<string[]>>;
  /**
   * Up to `maxMemberChangesPerCall` changes in one round trip, each answered on its own (a throttled
   * one fails with its own `retryAfterMs`). The whole call fails only when the round trip does.
   */
  changeMembers(id: string, changes: readonly MemberChange[]): Promise<GatewayResult<MemberChangeResult[]>>;
  /** One page of `groups/delta` with members: `link` is a next or delta link, undefined starts a full round. */
  deltaPage(link: string | undefined): Promise<GatewayResult<GroupDeltaPage>>;
}

/** Opens the gateway of a connection (its tenant, its tokens). */
export interface M365GroupGateways {
  forConnection(connectionId: string): M365GroupGateway;
}
