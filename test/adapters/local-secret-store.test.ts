import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLocalSecretStore, LocalSecretStoreError } from '../../src/adapters/local-secrets/local-secret-store';
import { describeSecretStoreContract } from '../contract/secret-store.contract';
import { ManualClock } from '../support/manual-clock';

const tempRoots: string[] = [];

async function tempDataDir(): Promise<string> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'local-secrets-'));
  tempRoots.push(root);
  return root;
}

afterAll(async () => {
  await Promise.all(tempRoots.map((root) => fs.rm(root, { recursive: true, force: true })));
});

describeSecretStoreContract('local encrypted files', async (clock) => {
  const dataDir = await tempDataDir();
  return { store: createLocalSecretStore({ dir: path.join(dataDir, 'secrets'), clock }), close: async () => {} };
});

describe('local secret store', () => {
  let dataDir: string;
  let dir: string;

  beforeEach(async () => {
    dataDir = await tempDataDir();
    dir = path.join(dataDir, 'secrets');
  });

  async function secretFiles(): Promise<string[]> {
    return (await fs.readdir(dir)).map((file) => path.join(dir, file));
  }

  async function onlySecretFile(): Promise<string> {
    const files = await secretFiles();
    expect(files).toHaveLength(1);
    return files[0] as string;
  }

  it('keeps neither the value nor the name in clear on disk', async () => {
    const store = createLocalSecretStore({ dir });
    await store.set('conn-42/refresh-token', 'super-secret-refresh-token');
    const bytes = await fs.readFile(await onlySecretFile());
    for (const encoding of ['utf8', 'utf16le', 'base64'] as const) {
      expect(bytes.includes(Buffer.from('super-secret-refresh-token').toString(encoding))).toBe(false);
      expect(bytes.includes(Buffer.from('conn-42').toString(encoding))).toBe(false);
    }
    expect(path.basename(await onlySecretFile())).not.toContain('conn-42');
  });

  it('creates the key file with mode 0600 next to the secrets folder (0700), and secret files 0600', async () => {
    const store = createLocalSecretStore({ dir });
    await store.set('a', 'b');
    expect((await fs.stat(path.join(dataDir, 'secrets.key'))).mode & 0o777).toBe(0o600);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(await onlySecretFile())).mode & 0o777).toBe(0o600);
  });

  it('reuses the key file, so another instance (another process) reads the same secrets and sees deletes', async () => {
    await createLocalSecretStore({ dir }).set('conn-1/token-cache', 'cache-v1');
    const other = createLocalSecretStore({ dir });
    await expect(other.get('conn-1/token-cache')).resolves.toBe('cache-v1');
    await createLocalSecretStore({ dir }).delete('conn-1/token-cache');
    await expect(other.get('conn-1/token-cache')).resolves.toBeUndefined();
  });

  it('agrees on one key when several instances create the key file at once', async () => {
    const stores = Array.from({ length: 4 }, () => createLocalSecretStore({ dir }));
    await Promise.all(stores.map((store, index) => store.set(`s-${index}`, `v-${index}`)));
    for (const store of stores) {
      for (let index = 0; index < stores.length; index += 1) await expect(store.get(`s-${index}`)).resolves.toBe(`v-${index}`);
    }
    expect((await fs.readdir(dataDir)).sort()).toEqual(['secrets', 'secrets.key']);
  });

  it('uses the configured key and writes no key file', async () => {
    const keyBase64 = randomBytes(32).toString('base64');
    await createLocalSecretStore({ dir, keyBase64 }).set('a', 'b');
    await expect(createLocalSecretStore({ dir, keyBase64 }).get('a')).resolves.toBe('b');
    await expect(fs.access(path.join(dataDir, 'secrets.key'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a key that is not 32 bytes of base64', () => {
    expect(() => createLocalSecretStore({ dir, keyBase64: randomBytes(16).toString('base64') })).toThrow(
      expect.objectContaining({ code: 'SECRET_KEY_INVALID' }),
    );
    expect(() => createLocalSecretStore({ dir, keyBase64: 'not base64 at all!' })).toThrow(LocalSecretStoreError);
  });

  it('fails with SECRET_KEY_MISMATCH, not garbage, when read with another key', async () => {
    await createLocalSecretStore({ dir, keyBase64: randomBytes(32).toString('base64') }).set('a', 'b');
    const wrongKey = createLocalSecretStore({ dir, keyBase64: randomBytes(32).toString('base64') });
    await expect(wrongKey.get('a')).rejects.toMatchObject({ name: 'LocalSecretStoreError', code: 'SECRET_KEY_MISMATCH' });
  });

  it('fails with SECRET_CORRUPT when a file was tampered with', async () => {
    const store = createLocalSecretStore({ dir });
    await store.set('a', 'some value');
    const file = await onlySecretFile();
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
    await fs.writeFile(file, bytes);
    await expect(store.get('a')).rejects.toMatchObject({ code: 'SECRET_CORRUPT' });
  });

  it('fails with SECRET_CORRUPT when one secret file is copied over another', async () => {
    const store = createLocalSecretStore({ dir });
    await store.set('victim', 'victim value');
    const [victimFile] = await secretFiles();
    await store.set('attacker', 'attacker value');
    const attackerFile = (await secretFiles()).find((file) => file !== victimFile) as string;
    await fs.copyFile(attackerFile, victimFile as string);
    await expect(store.get('victim')).rejects.toMatchObject({ code: 'SECRET_CORRUPT' });
  });

  it('removes an expired secret file when it is read', async () => {
    const clock = new ManualClock(new Date('2030-01-01T00:00:00.000Z'));
    const store = createLocalSecretStore({ dir, clock });
    await store.set('pending-password/u1', 'Passw0rd!', { expiresAt: new Date('2030-01-01T00:01:00.000Z') });
    clock.advance(60_000);
    await expect(store.get('pending-password/u1')).resolves.toBeUndefined();
    await expect(secretFiles()).resolves.toEqual([]);
  });

  it('leaves no temporary files behind after writes', async () => {
    const store = createLocalSecretStore({ dir });
    await Promise.all(Array.from({ length: 20 }, (_, index) => store.set('same-name', `v-${index}`)));
    await onlySecretFile();
    await expect(store.get('same-name')).resolves.toMatch(/^v-\d+$/);
  });

  it('ping fails when the secrets folder cannot be created', async () => {
    const blocker = path.join(dataDir, 'blocker');
    await fs.writeFile(blocker, '');
    await expect(createLocalSecretStore({ dir: path.join(blocker, 'secrets') }).ping()).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
