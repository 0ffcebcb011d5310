import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../../domain/ports/clock';
import { systemClock } from '../../domain/ports/clock';
import type { SecretStore } from '../../domain/ports/secret-store';

export type LocalSecretStoreErrorCode = 'SECRET_KEY_INVALID' | 'SECRET_KEY_MISMATCH' | 'SECRET_CORRUPT';

/** A local secret or key that cannot be used: a malformed key, a file sealed under another key, or a damaged file. */
export class LocalSecretStoreError extends Error {
  readonly code: LocalSecretStoreErrorCode;

  constructor(code: LocalSecretStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalSecretStoreError';
    this.code = code;
  }
}

export interface LocalSecretStoreOptions {
  /** Directory holding one encrypted file per secret (DATA_DIR/secrets). */
  readonly dir: string;
  /** 32-byte AES key, base64 (LOCAL_SECRETS_KEY). Absent: a key file next to `dir` is used, created on first use. */
  readonly keyBase64?: string;
  readonly clock?: Clock;
}

/*
 * File layout (version 1):
 *   magic "MBS1" (4) | key id (8) | IV (12) | GCM tag (16) | AES-256-GCM ciphertext of {"v":value,"e":expiresAtMs|null}
 * The header and the secret's name are the additional authenticated data, so a file copied over another
 * secret's file, or a header edited, fails authentication. The key id (a keyed hash of the key) tells a
 * wrong key apart from a damaged file, without revealing anything about the key.
 */
const MAGIC = Buffer.from('MBS1', 'ascii');
const KEY_ID_BYTES = 8;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + KEY_ID_BYTES;
const BODY_OFFSET = HEADER_BYTES + IV_BYTES + TAG_BYTES;
const KEY_BYTES = 32;

interface SecretKey {
  readonly key: Buffer;
  readonly id: Buffer;
}

interface SealedRecord {
  readonly v: string;
  readonly e: number | null;
}

/** The local adapter of SecretStore: AES-256-GCM encrypted files, one per secret, no in-memory cache. */
export function createLocalSecretStore(options: LocalSecretStoreOptions): SecretStore {
  const clock = options.clock ?? systemClock;
  const dir = path.resolve(options.dir);
  const configuredKey = options.keyBase64 === undefined ? undefined : secretKey(parseKey(options.keyBase64, 'LOCAL_SECRETS_KEY'));
  let ready: Promise<SecretKey> | undefined;

  function init(): Promise<SecretKey> {
    if (ready === undefined) {
      const attempt = (async () => {
        await fs.mkdir(dir, { recursive: true, mode: 0o700 });
        return configuredKey ?? secretKey(await loadOrCreateKeyFile(path.join(path.dirname(dir), 'secrets.key')));
      })();
      ready = attempt;
      // A failed start (e.g. a read-only disk) is retried by the next call instead of sticking forever.
      attempt.catch(() => {
        if (ready === attempt) ready = undefined;
      });
    }
    return ready;
  }

  function fileFor(name: string): string {
    return path.join(dir, `${fileNameHash(name)}.secret`);
  }

  return {
    async get(name) {
      const key = await init();
      const file = fileFor(name);
      let sealed: Buffer;
      try {
        sealed = await fs.readFile(file);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      }
      const record = open(sealed, name, key);
      if (record.e !== null && record.e <= clock.now().getTime()) {
        await removeExpired(file, sealed);
        return undefined;
      }
      return record.v;
    },

    async set(name, value, setOptions) {
      const key = await init();
      const expiresAtMs = setOptions?.expiresAt === undefined ? null : setOptions.expiresAt.getTime();
      if (expiresAtMs !== null && Number.isNaN(expiresAtMs)) throw new TypeError('expiresAt is an invalid Date');
      const record: SealedRecord = { v: value, e: expiresAtMs };
      await writeAtomically(fileFor(name), seal(Buffer.from(JSON.stringify(record), 'utf8'), name, key));
    },

    async delete(name) {
      await fs.rm(fileFor(name), { force: true });
    },

    async ping() {
      await init();
      await fs.access(dir, fsConstants.R_OK | fsConstants.W_OK);
    },
  };
}

/** SHA-256 over the name's UTF-16 code units: any JS string, even one with lone surrogates, maps without loss. */
function fileNameHash(name: string): string {
  if (name.length === 0) throw new TypeError('secret name must not be empty');
  return createHash('sha256').update(name, 'utf16le').digest('hex');
}

function additionalData(header: Buffer, name: string): Buffer {
  return Buffer.concat([header, Buffer.from(name, 'utf16le')]);
}

function seal(plaintext: Buffer, name: string, key: SecretKey): Buffer {
  const header = Buffer.concat([MAGIC, key.id]);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(header, name));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, iv, cipher.getAuthTag(), body]);
}

function open(sealed: Buffer, name: string, key: SecretKey): SealedRecord {
  if (sealed.length < BODY_OFFSET || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new LocalSecretStoreError('SECRET_CORRUPT', `secret file for "${name}" is not a sealed secret`);
  }
  if (!sealed.subarray(MAGIC.length, HEADER_BYTES).equals(key.id)) {
    throw new LocalSecretStoreError(
      'SECRET_KEY_MISMATCH',
      `secret "${name}" was sealed with a different key than the configured one (LOCAL_SECRETS_KEY or the secrets.key file)`,
    );
  }
  const iv = sealed.subarray(HEADER_BYTES, HEADER_BYTES + IV_BYTES);
  const tag = sealed.subarray(HEADER_BYTES + IV_BYTES, BODY_OFFSET);
  const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(sealed.subarray(0, HEADER_BYTES), name));
  decipher.setAuthTag(tag);
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(sealed.subarray(BODY_OFFSET)), decipher.final()]);
  } catch (cause) {
    throw new LocalSecretStoreError('SECRET_CORRUPT', `secret file for "${name}" failed authentication (damaged or tampered with)`, { cause });
  }
  const record: unknown = JSON.parse(plaintext.toString('utf8'));
  if (!isSealedRecord(record)) throw new LocalSecretStoreError('SECRET_CORRUPT', `secret file for "${name}" has an unknown record shape`);
  return record;
}

function isSealedRecord(value: unknown): value is SealedRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.v === 'string' && (record.e === null || typeof record.e === 'number');
}

/*
 * The expired file is renamed aside first, then checked: if a writer replaced it after it was read, the
 * newer value is linked back (unless a still newer one already took the name), so a lazy expiry never
 * deletes a fresh value. A reader racing this may see the secret absent for that instant.
 */
async function removeExpired(file: string, expiredBytes: Buffer): Promise<void> {
  const aside = `${file}.${randomBytes(8).toString('hex')}.expired`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return;
    throw error;
  }
  try {
    if (!(await fs.readFile(aside)).equals(expiredBytes)) {
      await fs.link(aside, file).catch((error: unknown) => {
        if (!isErrno(error, 'EEXIST')) throw error;
      });
    }
  } finally {
    await fs.rm(aside, { force: true });
  }
}

/** Write to a private temp file, flush it, then rename over the target: readers see the old or the new file, never half of one. */
async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const temp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/*
 * Two processes may start at once: the key is written and flushed under a temp name, then hard-linked
 * into place, which fails if the other process won; both then read the one key that is in place.
 */
async function loadOrCreateKeyFile(keyFile: string): Promise<Buffer> {
  try {
    return parseKey(await fs.readFile(keyFile, 'utf8'), keyFile);
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  await fs.mkdir(path.dirname(keyFile), { recursive: true, mode: 0o700 });
  const temp = `${keyFile}.${randomBytes(8).toString('hex')}.tmp`;
  try {
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${randomBytes(KEY_BYTES).toString('base64')}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.link(temp, keyFile).catch((error: unknown) => {
      if (!isErrno(error, 'EEXIST')) throw error;
    });
  } finally {
    await fs.rm(temp, { force: true });
  }
  return parseKey(await fs.readFile(keyFile, 'utf8'), keyFile);
}

function parseKey(base64: string, source: string): Buffer {
  const trimmed = base64.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    throw new LocalSecretStoreError('SECRET_KEY_INVALID', `${source} must hold a ${KEY_BYTES}-byte key, base64-encoded`);
  }
  return key;
}

function secretKey(key: Buffer): SecretKey {
  return { key, id: createHmac('sha256', key).update('m365-bridge local secret key id').digest().subarray(0, KEY_ID_BYTES) };
}

// Duck-typed: errors from node:fs may come from another realm (e.g. under a test runner's VM), failing instanceof.
function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
