import { createHash } from 'node:crypto';

const HASH_HEX_CHARS = 32;
const SLUG_MAX_CHARS = 90;

/**
 * Maps a free-form secret name onto Key Vault's names (`^[0-9a-zA-Z-]{1,127}$`, compared case-insensitively).
 *
 * Rule: `<slug>-<hash>`.
 *  - hash: the first 32 hex characters (128 bits) of SHA-256 over the name's UTF-16 code units; it alone
 *    keeps distinct names apart, whatever characters or case they differ in.
 *  - slug: for people reading the vault: the name lower-cased, each run of characters outside [a-z0-9]
 *    replaced by one '-', cut to 90 characters, '-' trimmed from both ends; `s` when nothing is left.
 * Everything is lower case, so the vault's case-insensitivity cannot merge two results; the longest result
 * is 123 characters. Stored secrets are found by this rule, so it must never change.
 */
export function toKeyVaultSecretName(name: string): string {
  if (name.length === 0) throw new TypeError('secret name must not be empty');
  const hash = createHash('sha256').update(name, 'utf16le').digest('hex').slice(0, HASH_HEX_CHARS);
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, SLUG_MAX_CHARS)
    .replace(/^-+|-+$/g, '');
  return `${slug === '' ? 's' : slug}-${hash}`;
}
