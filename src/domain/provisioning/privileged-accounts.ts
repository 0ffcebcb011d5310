import type { ConnectionRecord } from '../connections/connection';
import type { M365Attributes, M365User } from './m365-user-gateway';

/**
 * Role template ids of the Entra built-in roles Microsoft labels PRIVILEGED ("Microsoft Entra
 * built-in roles", permissions reference; the same ids in every tenant). Holding any of them makes
 * an account privileged here.
 */
export const privilegedRoleTemplateIds: ReadonlySet<string> = new Set([
  '62e90394-69f5-4237-9190-012177145e10', // Global Administrator
  'e8611ab8-c189-46e8-94e1-60213ab1f814', // Privileged Role Administrator
  '7be44c8a-adaf-4e2a-84d6-ab2649e08a13', // Privileged Authentication Administrator
  'fe930be7-5e62-47db-91af-98c3a49a38b1', // User Administrator
  '729827e3-9c14-49f7-bb1b-9608f156bbb8', // Helpdesk Administrator
  '966707d0-3269-4727-9be2-8c3a10f19b9d', // Password Administrator
  'c4e39bd9-1100-46d3-8c65-fb160da0071f', // Authentication Administrator
  '25a516ed-2fa0-40ea-a2d0-12923a21473a', // Authentication Extensibility Administrator
  '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3', // Application Administrator
  'cf1c38e5-3621-4004-a7cb-879624dced7c', // Application Developer
  '158c047a-c907-4556-b7ef-446551a6b5f7', // Cloud Application Administrator
  '7698a772-787b-4ac8-901f-60d6b08affd2', // Cloud Device Administrator
  'b1be1c3e-b65d-4f19-8427-f6fa0d97feb9', // Conditional Access Administrator
  '9360feb5-f418-4baa-8175-e2a00bac4301', // Directory Writers
  '8329153b-31d0-4727-b945-745eb3bc5f31', // Domain Name Administrator
  'be2f45a1-457d-42af-a067-6ec1fa63bc45', // External Identity Provider Administrator
  'f2ef992c-3afb-46b9-b7cf-a126ee74c451', // Global Reader
  '8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2', // Hybrid Identity Administrator
  '3a2c62db-5318-420d-8d74-23affee5d9d5', // Intune Administrator
  '59d46f88-662b-457b-bceb-5c3809e5908f', // Lifecycle Workflows Administrator
  '194ae4cb-b126-40b2-bd5b-6091b380977d', // Security Administrator
  '5f2222b1-57c3-48ba-8ad5-d4759f1fde6f', // Security Operator
  '5d6b6bb7-de71-4623-b4af-96380a352509', // Security Reader
  'aaf43236-0c0d-4d5f-883a-6955382ac081', // B2C IEF Keyset Administrator
  'ecb2c6bf-0ab6-418e-bd87-7986f8d63bbe', // Attribute Provisioning Administrator
  '422218e4-db15-4ef9-bbe0-8afb41546d79', // Attribute Provisioning Reader
  'db506228-d27e-4b7d-95e5-295956d6615f', // Agent ID Administrator
  '4ba39ca4-527c-499a-b93d-d9b492c50246', // Partner Tier1 Support
  'e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8', // Partner Tier2 Support
]);

/** Why an account is protected: it holds a privileged role, it is the account the connection lives on, or both. */
export interface Privilege {
  readonly privileged: boolean;
  readonly consentingAccount: boolean;
}

export function privilegeOf(connection: ConnectionRecord, roleHolders: ReadonlySet<string>, m365UserId: string): Privilege {
  const id = m365UserId.toLowerCase();
  return { privileged: roleHolders.has(id), consentingAccount: connection.consentedBy?.objectId.toLowerCase() === id };
}

export function isProtected(privilege: Privilege): boolean {
  return privilege.privileged || privilege.consentingAccount;
}

/** What a write would do that a privileged account is protected from. */
export type RiskyChange = 'disable' | 'password' | 'rename' | 'delete';

/** The protected parts of a write to this account: disabling, a password, a new userPrincipalName. */
export function riskyChanges(account: M365User, attributes: M365Attributes, password: boolean): RiskyChange[] {
  const risky: RiskyChange[] = [];
  if (attributes.accountEnabled === false && account.accountEnabled !== false) risky.push('disable');
  if (password) risky.push('password');
  const upn = attributes.userPrincipalName;
  if (typeof upn === 'string' && upn.toLowerCase() !== account.userPrincipalName.toLowerCase()) risky.push('rename');
  return risky;
}

const verbs: Record<RiskyChange, string> = { disable: 'disable', password: 'set the password of', rename: 'rename', delete: 'delete' };

/** The binding error of a refused write: what was refused, why, and what the admin can do. */
export function privilegedRefusal(account: M365User, privilege: Privilege, changes: readonly RiskyChange[], connectionId: string, userId: string): { code: 'PRIVILEGED_ACCOUNT'; message: string } {
  const why = [
    ...(privilege.consentingAccount ? ['it is the account this connection was consented with (every change is made through it)'] : []),
    ...(privilege.privileged ? ['it holds a privileged directory role'] : []),
  ].join(' and ');
  const actions = changes.map((change) => verbs[change]).join(', ');
  return {
    code: 'PRIVILEGED_ACCOUNT',
    message:
      `Provisioning would ${actions} the Microsoft 365 account ${account.userPrincipalName}, but ${why}; nothing was written. ` +
      `Undo the directory change, or, if this is intended, allow it on this binding with PUT /api/connections/${connectionId}/users/${userId} {"allowPrivileged": true}` +
      (privilege.consentingAccount ? ' (re-consent the connection with another Global Administrator first, or it loses its access).' : '.'),
  };
}

/** Graph's 403 on a password or sign-in change of an admin: the consenting account lacks the role Microsoft requires for it. */
export function graphRefusedPrivileged(account: M365User, changes: readonly RiskyChange[], graphMessage: string): { code: 'PRIVILEGED_ACCOUNT'; message: string } {
  return {
    code: 'PRIVILEGED_ACCOUNT',
    message:
      `Microsoft 365 refused to ${changes.map((change) => verbs[change]).join(', ') || 'change'} ${account.userPrincipalName} (${graphMessage}): it is an administrator, and Microsoft lets only a higher-privileged administrator ` +
      'change its password or sign-in. Make the change in the Microsoft Entra admin center as a Global Administrator or Privileged Authentication Administrator.',
  };
}
