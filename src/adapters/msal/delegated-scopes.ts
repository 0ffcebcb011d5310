/**
 * The delegated Microsoft Graph permissions a connection asks for: `offline_access` plus the least
 * the features need (README, "Microsoft Graph permissions", gives the reason for each). Unqualified
 * names address Microsoft Graph. msal-node adds `openid` and `profile` itself.
 */
export const delegatedGraphScopes = [
  'offline_access',
  'User.Read',
  'User.ReadWrite.All',
  'User-PasswordProfile.ReadWrite.All',
  'Group.ReadWrite.All',
  'Domain.Read.All',
  'RoleManagement.Read.Directory',
] as const;

/** The resource scopes a token request names (msal-node adds the OpenID ones and offline_access). */
export const graphResourceScopes: readonly string[] = delegatedGraphScopes.filter((scope) => scope !== 'offline_access');
