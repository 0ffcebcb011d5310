import type { ConnectionRecord } from '../connections/connection';
import type { User } from '../directory/user-schemas';
import { keptNamesFor } from './attribute-mapping';
import type { UserBindingRecord } from './binding';

/** A plain-text message to one person. Never holds a secret. */
export interface Notice {
  /** Stable for one occasion, so sending it again replaces rather than repeats it. */
  readonly id: string;
  readonly to: string;
  readonly toName: string;
  readonly subject: string;
  readonly text: string;
}

/** Delivers notices to employees: an outbox folder locally, a configured sender in Azure. */
export interface NoticeSender {
  send(notice: Notice): Promise<void>;
}

/** The notice an employee gets when bound: which Microsoft 365 tenant, which sign-in name. No password. */
export function bindingNotice(connection: ConnectionRecord, user: User, binding: UserBindingRecord): Notice {
  const tenant = connection.tenantName ?? connection.name;
  const signInName = keptNamesFor(user.email, binding.keptNames)?.userPrincipalName ?? user.email;
  return {
    id: `binding-${connection.id}-${user.id}-${binding.incarnation}`,
    to: user.email,
    toName: user.displayName,
    subject: `Your Microsoft 365 account at ${tenant}`,
    text: [
      `Hello ${user.displayName},`,
      '',
      `Your directory account is now connected to Microsoft 365 (${tenant}).`,
      `Your Microsoft 365 sign-in name is ${signInName}.`,
      '',
      'Your Microsoft 365 account follows your directory account: changes to your profile, your',
      'password and your status are applied there for you. To use your directory password in',
      'Microsoft 365, set it in the directory; it is passed on the next time it changes.',
      '',
      'If you did not expect this message, contact your IT administrator.',
    ].join('\n'),
  };
}
