import type { ConnectionSettings } from '../connections/connection';

/**
 * Whether deprovisioning also signs the account out everywhere. On unless turned off: a connection
 * stored before the setting existed has no value and gets the default.
 */
export function revokesSessionsOnDeprovision(settings: ConnectionSettings): boolean {
  return settings.revokeSessionsOnDeprovision !== false;
}

const dayMs = 86_400_000;

/**
 * Whether a deprovisioned account is due for deletion: the connection deletes after a grace
 * period, the account was disabled by us longer ago than `deleteAfterDays`, and is not deleted yet.
 */
export function deletionDue(settings: ConnectionSettings, account: { readonly disabledAt?: string; readonly deletedAt?: string }, nowMs: number): boolean {
  if (settings.deprovisionAction !== 'disable_then_delete' || account.disabledAt === undefined || account.deletedAt !== undefined) return false;
  return nowMs >= Date.parse(account.disabledAt) + deleteAfterMs(settings);
}

/** The grace period of `disable_then_delete` (30 days for a connection stored before the setting existed). */
export function deleteAfterMs(settings: ConnectionSettings): number {
  return (settings.deleteAfterDays ?? 30) * dayMs;
}
