/** What the service counts for its operators (OpenTelemetry meters; Prometheus text at /api/metrics). */
export interface Metrics {
  /** A user provisioning event was recorded for the first time: provisioned, updated or deprovisioned. */
  userProvisioned(kind: 'provisioned' | 'updated' | 'deprovisioned', connectionId: string): void;
  /** A provisioning attempt failed, by its error code. */
  provisioningFailed(code: string, connectionId: string): void;
}
