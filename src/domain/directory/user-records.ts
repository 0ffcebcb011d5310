import type { StoredDocument } from '../ports/document-store';
import type { DirectoryDeps } from './directory-deps';
import { userSchema, type User } from './user-schemas';

/** A user as stored in `users` (pk = id = user id): the API's fields plus what never leaves the domain. */
export interface UserRecord extends User {
  /** `scrypt$N$r$p$salt$hash`; absent until a password is set. */
  readonly passwordHash?: string;
  readonly passwordChangedAt?: string;
}

const shownFields = Object.keys(userSchema.shape) as (keyof User)[];

/** The user as the API and the hooks see it: the allow-listed fields only. */
export function toUser(record: UserRecord): User {
  const user: Record<string, unknown> = {};
  for (const field of shownFields) {
    if (record[field] !== undefined) user[field] = record[field];
  }
  return user as User;
}

export function readUser(deps: Pick<DirectoryDeps, 'store'>, id: string): Promise<StoredDocument<UserRecord> | undefined> {
  return deps.store.get<UserRecord>('users', id, id);
}
