import { randomInt } from 'node:crypto';

const upper = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const lower = 'abcdefghijkmnopqrstuvwxyz';
const digits = '23456789';
const symbols = '!@#$%^&*-_=+?';
const all = upper + lower + digits + symbols;

/**
 * A random password for a new account that meets Entra's complexity rule (8-256 characters, three
 * of upper, lower, digit, symbol): 20 characters with all four classes. Nobody learns it; the
 * employee sets a password through the directory.
 */
export function generateInitialPassword(): string {
  const length = 20;
  const chars = [upper, lower, digits, symbols].map((set) => set[randomInt(set.length)] as string);
  while (chars.length < length) chars.push(all[randomInt(all.length)] as string);
  for (let i = chars.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}
