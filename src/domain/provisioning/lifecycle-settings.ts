import type { ConnectionSettings } from '../connections/connection';

/**
 * Whether deprovisioning also signs the account out everywhere. On unless turned off: a connection
 * stored before the setting existed has no value and gets the default.
 */
export function revokesSessionsOnDeprovision(settings: ConnectionSettings): boolean {
  return settings.revokeSessionsOnDeprovision !== false;
}
