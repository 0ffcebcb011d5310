import type { ProvisioningEventType } from '../provisioning/provisioning-events';

/** What the service counts for its operators (OpenTelemetry meters; Prometheus text at /api/metrics). */
export interface Metrics {
  /** A provisioning event was recorded for the first time: one per effective change (users provisioned, updated, deprovisioned...). */
  provisioningEvent(type: ProvisioningEventType, connectionId: string): void;
  /** A provisioning attempt failed, by its error code. */
  provisioningFailed(code: string, connectionId: string): void;
  /** A reconcile run's users round finished: bound accounts found drifted from the directory, and deleted behind our back. */
  driftFound(connectionId: string, found: { readonly drifted: number; readonly deleted: number }): void;
  /** Refreshing a connection's delegated tokens failed, by reason (`transient`, or the refusal's code). */
  tokenRefreshFailed(connectionId: string, reason: string): void;
}
