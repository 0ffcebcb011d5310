import type { M365UserProperty } from '../provisioning/m365-user-gateway';
import type { Result } from '../result';

/** Where a users/delta read starts: a new full round tracking `select`, or a link Graph handed out (nextLink or deltaLink). */
export type UsersDeltaStart = { readonly kind: 'full'; readonly select: readonly M365UserProperty[] } | { readonly kind: 'link'; readonly link: string };

/** A user as a delta page reports it: the id and (at least) the selected properties that changed. */
export interface DeltaUser {
  readonly id: string;
  readonly [property: string]: unknown;
}

/** One page of a users/delta round. */
export interface UsersDeltaPage {
  readonly changed: readonly DeltaUser[];
  /** Object ids reported `@removed` (deleted, or gone from scope). */
  readonly removed: readonly string[];
  /** The next page of this round, or on its last page the deltaLink that starts the next round. */
  readonly next: { readonly kind: 'next'; readonly link: string } | { readonly kind: 'done'; readonly deltaLink: string };
}

/**
 * Why a page could not be read: `resync_required` (410 / syncStateNotFound, or a stored link Graph
 * refuses) means start a full round; `transient` try the next run; `reauthorization_required` the
 * connection waits for consent; `refused` anything else Graph will keep refusing.
 */
export type UsersDeltaFailure =
  | { readonly code: 'resync_required'; readonly message: string }
  | { readonly code: 'transient'; readonly message: string; readonly retryAfterMs?: number }
  | { readonly code: 'reauthorization_required'; readonly message: string }
  | { readonly code: 'refused'; readonly message: string };

/** Graph `users/delta` for a connection's tenant (adapter: src/adapters/graph/graph-users-delta.ts). */
export interface M365UsersDelta {
  page(connectionId: string, from: UsersDeltaStart): Promise<Result<UsersDeltaPage, UsersDeltaFailure>>;
}
