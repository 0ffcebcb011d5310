import { randomBytes, scrypt, type ScryptOptions } from 'node:crypto';

// scrypt with N=2^15, r=8, p=1 costs 32 MiB and tens of milliseconds per hash: slow for guessing,
// cheap enough for an admin setting a password. The parameters travel with the hash so they can rise.
const cost = { N: 2 ** 15, r: 8, p: 1 } as const;
const saltBytes = 16;
const keyBytes = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyBytes, options, (error, key) => (error === null ? resolve(key) : reject(error)));
  });
}

/** Hashes a password with a fresh 16-byte salt as `scrypt$N$r$p$salt$hash` (base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(saltBytes);
  const key = await scryptAsync(password, salt, { ...cost, maxmem: 128 * cost.N * cost.r * 2 });
  return ['scrypt', cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}
