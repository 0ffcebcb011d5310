import { createHash } from 'node:crypto';
import { z } from 'zod';
import { domainNameSchema } from '../connections/connection';
import { domainOf, importEmail, importStatuses, type ImportStatus } from './import-status';
import type { M365Person } from './m365-directory';

/**
 * Narrows the Microsoft 365 users a preview lists or a filter import takes. `enabled` is answered
 * by Graph (`accountEnabled eq`); the rest while streaming, since Graph cannot evaluate them by
 * default (`domain` and `q` need substring matches, `status` needs the directory).
 */
export const importFilterSchema = z.strictObject({
  status: z.enum(importStatuses).optional(),
  domain: domainNameSchema.optional().meta({ description: "The domain of the email the user would be imported with (mail, else the UPN)" }),
  q: z.string().trim().min(1).max(256).optional().meta({ description: 'Case-insensitive substring of the display name, given name, surname, UPN or mail' }),
  enabled: z.boolean().optional(),
});
export type ImportFilter = z.output<typeof importFilterSchema>;

/** The part of the filter the directory does not need for: domain and text. */
export function matchesPerson(person: M365Person, filter: ImportFilter): boolean {
  if (filter.domain !== undefined) {
    const email = importEmail(person);
    if (email === undefined || domainOf(email) !== filter.domain) return false;
  }
  if (filter.q !== undefined) {
    const needle = filter.q.toLowerCase();
    const fields = [person.displayName, person.givenName, person.surname, person.userPrincipalName, person.mail];
    if (!fields.some((field) => typeof field === 'string' && field.toLowerCase().includes(needle))) return false;
  }
  // Graph answered `enabled`; checked again so a page read without it (a cached one) cannot leak others.
  return filter.enabled === undefined || (person.accountEnabled !== false) === filter.enabled;
}

export function matchesStatus(status: ImportStatus, filter: ImportFilter): boolean {
  return filter.status === undefined || filter.status === status;
}

/** Names the filter in a cursor, so a cursor cannot be replayed with other filters. */
export function filterFingerprint(filter: ImportFilter): string {
  const canonical = JSON.stringify([filter.status ?? null, filter.domain ?? null, filter.q ?? null, filter.enabled ?? null]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}
