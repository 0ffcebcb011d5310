import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../ports/clock';

/**
 * A UUIDv7 (RFC 9562): time-ordered, so lists ordered by id (the cheapest order in both stores)
 * come out in creation order.
 */
export function newDirectoryId(clock: Clock): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(clock.now().getTime(), 0, 6);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x70;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// Cosmos DB ids are at most 255 characters and may not contain / \ ? #.
const maxDocumentIdLength = 255;

/** A document id made from free text (an email, a group name, a message id) that both stores accept. */
export function documentIdFor(prefix: string, value: string): string {
  const encoded = `${prefix}:${encodeURIComponent(value)}`;
  return encoded.length <= maxDocumentIdLength ? encoded : `${prefix}:sha256:${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}
