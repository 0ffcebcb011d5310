/**
 * Holds secrets (token caches, signing keys, pending passwords). Key Vault in Azure, AES-256-GCM
 * encrypted files locally. Names are free-form (`conn-123-token-cache`); adapters map them.
 */
export interface SecretStore {
  get(name: string): Promise<string | undefined>;
  set(name: string, value: string, options?: { readonly expiresAt?: Date }): Promise<void>;
  /** Idempotent: deleting a missing secret succeeds. */
  delete(name: string): Promise<void>;
  ping(): Promise<void>;
}
