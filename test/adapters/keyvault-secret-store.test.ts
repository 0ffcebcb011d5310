import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import { SecretClient } from '@azure/keyvault-secrets';
import { KeyVaultSecretStore } from '../../src/adapters/keyvault/keyvault-secret-store';
import { toKeyVaultSecretName } from '../../src/adapters/keyvault/keyvault-secret-name';
import { loopbackCertificatePem } from '../../src/adapters/sandbox/loopback-tls';
import type { Clock } from '../../src/domain/ports/clock';
import { describeSecretStoreContract } from '../contract/secret-store.contract';
import type { KeyVaultFake, KeyVaultFakeOptions } from '../fakes/keyvault-fake-server';
import { startKeyVaultFake } from '../fakes/keyvault-fake-server';

/** A credential that hands out the fake's token and records what it was asked for. */
function fakeCredential(fake: KeyVaultFake): TokenCredential & { readonly requests: Array<{ scopes: string[]; tenantId: string | undefined }> } {
  const requests: Array<{ scopes: string[]; tenantId: string | undefined }> = [];
  return {
    requests,
    async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
      requests.push({ scopes: Array.isArray(scopes) ? scopes : [scopes], tenantId: options?.tenantId });
      return { token: fake.accessToken, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

function clientFor(fake: KeyVaultFake, credential: TokenCredential = fakeCredential(fake), maxRetries?: number): SecretClient {
  return new SecretClient(fake.vaultUrl, credential, {
    // The loopback vault's host is not *.vault.azure.net, and its certificate is our own.
    disableChallengeResourceVerification: true,
    tlsOptions: { ca: loopbackCertificatePem },
    ...(maxRetries === undefined ? {} : { retryOptions: { maxRetries } }),
  });
}

async function openOnFake(options: KeyVaultFakeOptions = {}, clock?: Clock): Promise<{ fake: KeyVaultFake; store: KeyVaultSecretStore }> {
  const fake = await startKeyVaultFake(options);
  return { fake, store: new KeyVaultSecretStore(clientFor(fake), clock === undefined ? {} : { clock }) };
}

describeSecretStoreContract('Key Vault (loopback fake)', async (clock) => {
  const { fake, store } = await openOnFake({}, clock);
  return { store, close: () => fake.close() };
});

describeSecretStoreContract('Key Vault with purge protection (loopback fake)', async (clock) => {
  const { fake, store } = await openOnFake({ purgeProtection: true }, clock);
  return { store, close: () => fake.close() };
});

describe('Key Vault secret names', () => {
  it('maps a name to a readable, lower-case slug plus a hash (a stable rule: stored secrets depend on it)', () => {
    expect(toKeyVaultSecretName('conn-123/token-cache')).toBe('conn-123-token-cache-c73512ee75ab45b9948481bd74a443f4');
  });

  it('always yields a valid Key Vault name, at most 127 characters', () => {
    for (const name of ['---', '🔑', '/', 'A'.repeat(1000), '-a-', 'ok']) {
      expect(toKeyVaultSecretName(name)).toMatch(/^[0-9a-z-]{1,127}$/);
    }
  });

  it('rejects an empty name as a programming error', () => {
    expect(() => toKeyVaultSecretName('')).toThrow(TypeError);
  });
});

describe('Key Vault secret store', () => {
  let fake: KeyVaultFake;

  afterEach(async () => {
    await fake.close();
  });

  it('answers the vault challenge with a token for the vault resource and the challenge tenant', async () => {
    fake = await startKeyVaultFake();
    const credential = fakeCredential(fake);
    const store = new KeyVaultSecretStore(clientFor(fake, credential));
    await store.set('a', 'b');
    await expect(store.get('a')).resolves.toBe('b');
    expect(fake.requests[0]).toMatchObject({ method: 'PUT', status: 401 });
    expect(fake.requests.slice(1).every((request) => request.status === 200)).toBe(true);
    expect(credential.requests[0]).toEqual({ scopes: ['https://vault.azure.net/.default'], tenantId: fake.tenantId });
  });

  it('stores secrets under their mapped names and purges them on delete', async () => {
    fake = await startKeyVaultFake();
    const store = new KeyVaultSecretStore(clientFor(fake));
    await store.set('conn-9/token-cache', 'x');
    expect(fake.activeSecretNames()).toEqual([toKeyVaultSecretName('conn-9/token-cache')]);
    await store.delete('conn-9/token-cache');
    expect(fake.activeSecretNames()).toEqual([]);
    expect(fake.deletedSecretNames()).toEqual([]);
  });

  it('where purging is forbidden, leaves the secret soft-deleted and recovers the name to set it again', async () => {
    fake = await startKeyVaultFake({ purgeProtection: true });
    const store = new KeyVaultSecretStore(clientFor(fake));
    await store.set('pending-password/u1', 'first');
    await store.delete('pending-password/u1');
    expect(fake.deletedSecretNames()).toEqual([toKeyVaultSecretName('pending-password/u1')]);
    await expect(store.get('pending-password/u1')).resolves.toBeUndefined();
    await store.set('pending-password/u1', 'second');
    await expect(store.get('pending-password/u1')).resolves.toBe('second');
    expect(fake.requests.some((request) => request.method === 'POST' && request.path.endsWith('/recover'))).toBe(true);
  });

  it('waits out deletes and purges that take time, then sets the name again', async () => {
    fake = await startKeyVaultFake({ operationLatencyMs: 300 });
    const store = new KeyVaultSecretStore(clientFor(fake));
    await store.set('conn-5/token-cache', 'first');
    await store.delete('conn-5/token-cache');
    await store.set('conn-5/token-cache', 'second');
    await expect(store.get('conn-5/token-cache')).resolves.toBe('second');
    expect(fake.requests.some((request) => request.method === 'PUT' && request.status === 409)).toBe(true);
    expect(fake.deletedSecretNames()).toEqual([]);
  });

  it('where purging is forbidden and operations take time, waits out the delete and the recovery', async () => {
    fake = await startKeyVaultFake({ purgeProtection: true, operationLatencyMs: 300 });
    const store = new KeyVaultSecretStore(clientFor(fake));
    await store.set('conn-8/token-cache', 'first');
    await store.delete('conn-8/token-cache');
    await store.set('conn-8/token-cache', 'second');
    await expect(store.get('conn-8/token-cache')).resolves.toBe('second');
  });

  it('sets a name left soft-deleted by an interrupted delete', async () => {
    fake = await startKeyVaultFake();
    const client = clientFor(fake);
    const store = new KeyVaultSecretStore(client);
    await store.set('conn-6/token-cache', 'first');
    // As if the process stopped between the soft delete and the purge.
    await (await client.beginDeleteSecret(toKeyVaultSecretName('conn-6/token-cache'))).pollUntilDone();
    await store.set('conn-6/token-cache', 'second');
    await expect(store.get('conn-6/token-cache')).resolves.toBe('second');
    expect(fake.deletedSecretNames()).toEqual([]);
  });

  it('refuses an expiry the SDK would wrap into the past, instead of storing a secret that reads as expired', async () => {
    fake = await startKeyVaultFake();
    const store = new KeyVaultSecretStore(clientFor(fake));
    await expect(store.set('a', 'b', { expiresAt: new Date('2040-01-01T00:00:00Z') })).rejects.toThrow(RangeError);
    await store.set('a', 'b', { expiresAt: new Date('2038-01-19T03:14:07Z') });
    await expect(store.get('a')).resolves.toBe('b');
  });

  it('ping fails when the vault cannot be reached', async () => {
    fake = await startKeyVaultFake();
    const store = new KeyVaultSecretStore(clientFor(fake, fakeCredential(fake), 0));
    await expect(store.ping()).resolves.toBeUndefined();
    await fake.close();
    await expect(store.ping()).rejects.toThrow();
  });

  it('ping fails when the vault refuses the credential', async () => {
    fake = await startKeyVaultFake();
    const wrongCredential: TokenCredential = { getToken: async () => ({ token: 'not-the-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const store = new KeyVaultSecretStore(clientFor(fake, wrongCredential, 0));
    await expect(store.ping()).rejects.toMatchObject({ statusCode: 401 });
  });
});
