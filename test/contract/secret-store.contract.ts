import type { Clock } from '../../src/domain/ports/clock';
import type { SecretStore } from '../../src/domain/ports/secret-store';
import { ManualClock } from '../support/manual-clock';

/** A clock that stands still until a test moves it. */

export interface OpenedSecretStore {
  readonly store: SecretStore;
  close(): Promise<void>;
}

/**
 * Names that a naive mapping (lower-casing, replacing or dropping unusual characters, truncating)
 * would merge. Every store must keep them apart.
 */
const LOOK_ALIKE_NAMES: readonly string[] = [
  'conn-1/token-cache',
  'conn-1.token-cache',
  'conn-1_token-cache',
  'conn-1-token-cache',
  'conn-1 token-cache',
  'conn-1//token-cache',
  'conn-1/token-cache/',
  'Conn-1/Token-Cache',
  'CONN-1/TOKEN-CACHE',
  'conn-1%2Ftoken-cache',
  'conn-1/tökén-cache',
  'conn-1/to\u0308ken-cache',
  'conn-1/töken-cache',
  '🔑',
  '\uFFFD',
  '\uD800',
  'x'.repeat(300),
  `${'x'.repeat(299)}y`,
];

/**
 * The behaviour every SecretStore adapter promises. `open` gets the clock the store must use for expiry;
 * each test opens a fresh, empty store. Expiry is checked to whole seconds, Key Vault's resolution.
 */
export function describeSecretStoreContract(adapterName: string, open: (clock: Clock) => Promise<OpenedSecretStore>): void {
  describe(`SecretStore contract: ${adapterName}`, () => {
    let clock: ManualClock;
    let opened: OpenedSecretStore;
    let store: SecretStore;

    beforeEach(async () => {
      clock = new ManualClock(new Date('2030-01-01T00:00:00.000Z'));
      opened = await open(clock);
      store = opened.store;
    });

    afterEach(async () => {
      await opened.close();
    });

    it('reads a secret that was never set as undefined', async () => {
      await expect(store.get('conn-404/token-cache')).resolves.toBeUndefined();
    });

    it('returns the value that was set, verbatim', async () => {
      const value = JSON.stringify({ note: 'ünïcødé 🔐\nline two\ttab "quoted"', padding: 'p'.repeat(16 * 1024) });
      await store.set('conn-123/token-cache', value);
      await expect(store.get('conn-123/token-cache')).resolves.toBe(value);
    });

    it('replaces the value when a secret is set again', async () => {
      await store.set('conn-123/token-cache', 'first');
      await store.set('conn-123/token-cache', 'second');
      await expect(store.get('conn-123/token-cache')).resolves.toBe('second');
    });

    it('deletes a secret, and deleting it again or deleting a missing one succeeds', async () => {
      await store.set('pending-password/user-1', 'Passw0rd!');
      await store.delete('pending-password/user-1');
      await expect(store.get('pending-password/user-1')).resolves.toBeUndefined();
      await expect(store.delete('pending-password/user-1')).resolves.toBeUndefined();
      await expect(store.delete('never-set')).resolves.toBeUndefined();
    });

    it('sets a deleted name again', async () => {
      await store.set('pending-password/user-1', 'first');
      await store.delete('pending-password/user-1');
      await store.set('pending-password/user-1', 'second');
      await expect(store.get('pending-password/user-1')).resolves.toBe('second');
    });

    it('deleting one secret leaves the others', async () => {
      await store.set('a/1', 'one');
      await store.set('a/2', 'two');
      await store.delete('a/1');
      await expect(store.get('a/2')).resolves.toBe('two');
    });

    it('serves a secret until its expiry and treats it as absent from then on', async () => {
      await store.set('pending-password/user-2', 'Passw0rd!', { expiresAt: new Date(clock.now().getTime() + 60_000) });
      await expect(store.get('pending-password/user-2')).resolves.toBe('Passw0rd!');
      clock.advance(59_000);
      await expect(store.get('pending-password/user-2')).resolves.toBe('Passw0rd!');
      clock.advance(2_000);
      await expect(store.get('pending-password/user-2')).resolves.toBeUndefined();
      await expect(store.get('pending-password/user-2')).resolves.toBeUndefined();
    });

    it('treats a secret set with an expiry already past as absent', async () => {
      await store.set('pending-password/user-3', 'stale', { expiresAt: new Date(clock.now().getTime() - 1_000) });
      await expect(store.get('pending-password/user-3')).resolves.toBeUndefined();
    });

    it('setting an expired secret again without expiry keeps it for good', async () => {
      await store.set('conn-7/token-cache', 'old', { expiresAt: new Date(clock.now().getTime() + 10_000) });
      clock.advance(11_000);
      await expect(store.get('conn-7/token-cache')).resolves.toBeUndefined();
      await store.set('conn-7/token-cache', 'new');
      clock.advance(365 * 24 * 3600 * 1000);
      await expect(store.get('conn-7/token-cache')).resolves.toBe('new');
    });

    it('keeps names apart that differ only in characters, case, normalisation or past a length limit', async () => {
      for (const [index, name] of LOOK_ALIKE_NAMES.entries()) await store.set(name, `value-${index}`);
      for (const [index, name] of LOOK_ALIKE_NAMES.entries()) await expect(store.get(name)).resolves.toBe(`value-${index}`);
      await store.delete('conn-1/token-cache');
      await expect(store.get('conn-1/token-cache')).resolves.toBeUndefined();
      await expect(store.get('Conn-1/Token-Cache')).resolves.toBe(`value-${LOOK_ALIKE_NAMES.indexOf('Conn-1/Token-Cache')}`);
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
