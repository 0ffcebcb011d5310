import type { Result } from '../result';
import type { Group } from './group-schemas';
import type { User } from './user-schemas';

/** A user field whose value a change replaced. */
export type UserField = Exclude<keyof User, 'id' | 'state' | 'createdAt' | 'updatedAt'>;
export type GroupField = Exclude<keyof Group, 'id' | 'createdAt' | 'updatedAt'>;

/**
 * A committed directory change, announced after it was written. It names what changed, not the new
 * values: listeners read the current state (changes are nudges). It never holds a password.
 */
export type DirectoryChange =
  | { readonly type: 'user.created' | 'user.suspended' | 'user.activated' | 'user.deleted' | 'user.password_changed'; readonly userId: string; readonly email: string; readonly occurredAt: string }
  | {
      readonly type: 'user.updated';
      readonly userId: string;
      readonly email: string;
      readonly changedFields: readonly UserField[];
      /** Present when the email changed. */
      readonly previousEmail?: string;
      readonly occurredAt: string;
    }
  | { readonly type: 'group.created' | 'group.deleted'; readonly groupId: string; readonly name: string; readonly occurredAt: string }
  | { readonly type: 'group.updated'; readonly groupId: string; readonly name: string; readonly changedFields: readonly GroupField[]; readonly occurredAt: string }
  | { readonly type: 'group.member_added' | 'group.member_removed'; readonly groupId: string; readonly userId: string; readonly occurredAt: string };

/** Why an email change is refused (answered as 409 with this reason). */
export interface EmailChangeRefusal {
  readonly reason: string;
}

/** Seams through which other parts of the product (provisioning) take part in directory changes. */
export interface DirectoryHooks {
  /** Called after every committed change. Must not throw: the change is already done. */
  onChange(change: DirectoryChange): Promise<void>;
  /** Called before an email change is written; a refusal stops it. */
  checkEmailChange(user: User, newEmail: string): Promise<Result<void, EmailChangeRefusal>>;
  /**
   * Called after a new password's hash is stored, with the password in clear, to hand it to whatever
   * must set it elsewhere. A throw fails the request so the caller retries.
   */
  handOffPassword(userId: string, password: string): Promise<void>;
}
