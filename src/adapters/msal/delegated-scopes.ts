import { licensingPermissions } from '../../domain/connections/consent-upgrade';

/**
 * The delegated Microsoft Graph permissions every connection has consented to: `offline_access`
 * plus the least the features need (README, "Microsoft Graph permissions", gives the reason for
 * each). Unqualified names address Microsoft Graph. msal-node adds `openid` and `profile` itself.
 */
const baseGraphScopes = [
  'offline_access',
  'User.Read',
  'User.ReadWrite.All',
  'User-PasswordProfile.ReadWrite.All',
  'Group.ReadWrite.All',
  'Domain.Read.All',
  'RoleManagement.Read.Directory',
] as const;

/** What a consent asks for: the base set and the permissions added since (licences). */
export const delegatedGraphScopes: readonly string[] = [...baseGraphScopes, ...licensingPermissions];

/**
 * The resource scopes a token request names: only the base set. Entra refuses a refresh naming a
 * scope the grant lacks (AADSTS65001), which would stop a connection consented before a permission
 * was added; its access tokens carry every scope the grant has anyway, so newer features find out
 * from Graph's 403 and ask for a consent upgrade instead.
 */
export const graphResourceScopes: readonly string[] = baseGraphScopes.filter((scope) => scope !== 'offline_access');
