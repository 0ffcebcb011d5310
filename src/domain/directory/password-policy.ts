import { err, ok, type Result } from '../result';

export interface PasswordPolicy {
  readonly minLength: number;
}

/** Checks a new password against the policy and the user's own identifiers; the reason never quotes the password. */
export function checkPassword(password: string, user: { readonly email: string; readonly username: string }, policy: PasswordPolicy): Result<void, string> {
  if ([...password].length < policy.minLength) return err(`must be at least ${policy.minLength} characters`);
  const lowered = password.toLowerCase();
  const localPart = user.email.slice(0, user.email.lastIndexOf('@'));
  if (lowered === user.email.toLowerCase() || lowered === localPart.toLowerCase()) return err('must not be the email address or its local part');
  if (lowered === user.username.toLowerCase()) return err('must not be the username');
  return ok(undefined);
}
