import type { ConnectionRecord } from '../connections/connection';
import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import type { Logger } from '../ports/logger';
import type { Metrics } from '../ports/metrics';
import type { MessageSender } from '../ports/work-queue';
import type { GatewayResult, SubscribedSku } from '../provisioning/m365-user-gateway';
import type { M365UsersDelta } from './m365-users-delta';

/** What a run of one connection offers the parts it calls (users, safety net, groups). */
export interface ReconcileRun {
  readonly runId: string;
  readonly connection: ConnectionRecord;
  /** A full resynchronization was asked for: read everything, not only the changes. */
  readonly forceFull: boolean;
  /** Extends the connection's lease; false when it was lost: stop at once and persist nothing more. */
  keepLease(): Promise<boolean>;
}

/** What the security-group part of a run reports (counts by name). */
export type GroupsReport = Readonly<Record<string, number | string | boolean>>;

/**
 * The security-group part of a run (DESIGN.md point 11, issue 8 point 4), called under the
 * connection's lease after the users. Returning `lease_lost` ends the run.
 */
export type GroupsReconciler = (run: ReconcileRun) => Promise<GroupsReport | 'lease_lost'>;

/** The ports a reconcile run works with. */
export interface ReconcileDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly sender: MessageSender;
  readonly usersDelta: M365UsersDelta;
  /** Absent until security-group synchronization is wired. */
  readonly reconcileGroups?: GroupsReconciler;
  /** The tenant's subscribed SKUs, so bindings waiting for a free seat are tried again once there is one. */
  readonly subscribedSkus?: (connectionId: string) => Promise<GatewayResult<SubscribedSku[]>>;
  /** Counts the drift each run finds; absent, nothing is counted. */
  readonly metrics?: Metrics;
}
