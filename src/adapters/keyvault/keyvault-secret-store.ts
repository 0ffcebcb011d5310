import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import type { Clock } from '../../domain/ports/clock';
import { systemClock } from '../../domain/ports/clock';
import type { SecretStore } from '../../domain/ports/secret-store';
import { toKeyVaultSecretName } from './keyvault-secret-name';

export type KeyVaultSecretStoreErrorCode = 'SECRET_CONFLICT';

/** Key Vault kept refusing a write because the name was still being deleted, purged or recovered. */
export class KeyVaultSecretStoreError extends Error {
  readonly code: KeyVaultSecretStoreErrorCode;

  constructor(code: KeyVaultSecretStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyVaultSecretStoreError';
    this.code = code;
  }
}

// Deletes, purges and recoveries finish asynchronously in Key Vault, typically within seconds.
const POLL_INTERVAL_MS = 500;
const CONFLICT_RETRY_FIRST_DELAY_MS = 250;
const CONFLICT_RETRY_MAX_DELAY_MS = 4000;
const MAX_ATTEMPTS = 8;
// Has no hash suffix, so no mapped secret name can ever be this.
const PING_PROBE_NAME = 'm365-bridge-ping';
// The SDK sends `exp` as 32-bit seconds (`ms / 1000 | 0`): a later date would wrap to 1901 and read as expired.
const LATEST_EXPIRES_AT_MS = (2 ** 31 - 1) * 1000;

/**
 * SecretStore on Azure Key Vault. Names are mapped by `toKeyVaultSecretName`. The vault keeps soft-deleted
 * secrets (and their names) for its retention period: `delete` purges when the vault allows it, and `set`
 * reclaims a name that is still soft-deleted (purge, or recover when purging is forbidden, then a new version).
 */
export class KeyVaultSecretStore implements SecretStore {
  private readonly client: SecretClient;
  private readonly clock: Clock;

  constructor(client: SecretClient, options: { readonly clock?: Clock } = {}) {
    this.client = client;
    this.clock = options.clock ?? systemClock;
  }

  async get(name: string): Promise<string | undefined> {
    try {
      const secret = await this.client.getSecret(toKeyVaultSecretName(name));
      // Key Vault still serves a secret after its `exp`; the port promises an expired secret is absent.
      const expiresOn = secret.properties.expiresOn;
      if (expiresOn !== undefined && expiresOn.getTime() <= this.clock.now().getTime()) return undefined;
      return secret.value;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async set(name: string, value: string, options?: { readonly expiresAt?: Date }): Promise<void> {
    const vaultName = toKeyVaultSecretName(name);
    if (options?.expiresAt !== undefined && !(options.expiresAt.getTime() <= LATEST_EXPIRES_AT_MS)) {
      throw new RangeError('expiresAt must be a valid date no later than 2038-01-19T03:14:07Z for Key Vault');
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.client.setSecret(vaultName, value, { expiresOn: options?.expiresAt });
        return;
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
        if (attempt === MAX_ATTEMPTS) {
          throw new KeyVaultSecretStoreError('SECRET_CONFLICT', `Key Vault kept refusing to write secret ${vaultName}`, { cause: error });
        }
        // Other 409s (ObjectIsBeingDeleted, ObjectIsBeingRecovered, concurrent operations) clear by themselves.
        if (innerErrorCodeOf(error) === 'ObjectIsDeletedButRecoverable') await this.reclaimDeleted(vaultName);
        else await sleep(conflictRetryDelayMs(attempt));
      }
    }
  }

  async delete(name: string): Promise<void> {
    const vaultName = toKeyVaultSecretName(name);
    try {
      const poller = await this.client.beginDeleteSecret(vaultName, { intervalInMs: POLL_INTERVAL_MS });
      await poller.pollUntilDone();
    } catch (error) {
      // Not active: already deleted, or never set. A soft-deleted leftover may remain, so still purge.
      if (statusOf(error) !== 404) throw error;
    }
    await this.purgeIfAllowed(vaultName);
  }

  async ping(): Promise<void> {
    try {
      await this.client.getSecret(PING_PROBE_NAME);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /**
   * Once gone from the active secrets, the secret reads as absent, which is all `delete` promises; a purge
   * that is forbidden (403: purge protection, or no purge permission) or still blocked (409) leaves a
   * soft-deleted secret that `set` reclaims later.
   */
  private async purgeIfAllowed(vaultName: string): Promise<void> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      try {
        await this.client.purgeDeletedSecret(vaultName);
        return;
      } catch (error) {
        const status = statusOf(error);
        if (status === 404 || status === 403) return;
        if (status !== 409) throw error;
      }
      if (attempt < MAX_ATTEMPTS) await sleep(conflictRetryDelayMs(attempt));
    }
  }

  /** Frees a name held by a soft-deleted secret: purge it, or recover it when purging is forbidden. The caller retries its write. */
  private async reclaimDeleted(vaultName: string): Promise<void> {
    try {
      await this.client.purgeDeletedSecret(vaultName);
      return;
    } catch (error) {
      const status = statusOf(error);
      // 404/409: another caller purged or recovered it first, or the purge is still running; the write retries.
      if (status === 404 || status === 409) return;
      if (status !== 403) throw error;
    }
    try {
      const poller = await this.client.beginRecoverDeletedSecret(vaultName, { intervalInMs: POLL_INTERVAL_MS });
      await poller.pollUntilDone();
    } catch (error) {
      const status = statusOf(error);
      if (status !== 404 && status !== 409) throw error;
    }
  }
}

/** A KeyVaultSecretStore on the vault at `vaultUrl` (e.g. `https://<name>.vault.azure.net`). */
export function createKeyVaultSecretStore(vaultUrl: string, credential: TokenCredential): KeyVaultSecretStore {
  return new KeyVaultSecretStore(new SecretClient(vaultUrl, credential));
}

function conflictRetryDelayMs(attempt: number): number {
  return Math.min(CONFLICT_RETRY_FIRST_DELAY_MS * 2 ** (attempt - 1), CONFLICT_RETRY_MAX_DELAY_MS);
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The service's inner error code (e.g. ObjectIsDeletedButRecoverable), which the SDK puts in `details`. */
function innerErrorCodeOf(error: unknown): string | undefined {
  const details = (error as { details?: { error?: { innerError?: { code?: unknown } } } }).details;
  const code = details?.error?.innerError?.code;
  return typeof code === 'string' ? code : undefined;
}
