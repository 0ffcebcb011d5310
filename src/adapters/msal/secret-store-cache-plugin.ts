import type { ICachePlugin, TokenCacheContext } from '@azure/msal-node';
import type { SecretStore } from '../../domain/ports/secret-store';

/** The secret that holds a connection's msal token cache (refresh token included). */
export function tokenCacheSecretName(connectionId: string): string {
  return `connection-${connectionId}-token-cache`;
}

/**
 * msal-node's token cache for one connection, persisted in the secret store and nowhere else.
 * The cache is read once and then served from memory (msal keeps access tokens there), and written
 * back whenever msal changed it (a refresh rotates the refresh token). `reload()` makes the next
 * access read the stored cache again, for when another host may have rotated it.
 */
export class SecretStoreCachePlugin implements ICachePlugin {
  private loaded = false;

  constructor(
    private readonly secrets: SecretStore,
    private readonly secretName: string,
  ) {}

  reload(): void {
    this.loaded = false;
  }

  async beforeCacheAccess(context: TokenCacheContext): Promise<void> {
    if (this.loaded) return;
    const stored = await this.secrets.get(this.secretName);
    if (stored !== undefined) context.tokenCache.deserialize(stored);
    this.loaded = true;
  }

  async afterCacheAccess(context: TokenCacheContext): Promise<void> {
    if (context.cacheHasChanged) await this.secrets.set(this.secretName, context.tokenCache.serialize());
  }
}
