/**
 * The user properties the sandbox models (Graph v1.0 `user` resource). The key order is fixed so
 * every user object shares one V8 shape, which keeps a 100,000-user tenant small.
 */
export const userPropertyNames = [
  'accountEnabled',
  'businessPhones',
  'city',
  'companyName',
  'country',
  'createdDateTime',
  'department',
  'displayName',
  'employeeId',
  'employeeOrgData',
  'employeeType',
  'givenName',
  'jobTitle',
  'mail',
  'mailNickname',
  'mobilePhone',
  'officeLocation',
  'onPremisesImmutableId',
  'otherMails',
  'passwordPolicies',
  'postalCode',
  'preferredLanguage',
  'signInSessionsValidFromDateTime',
  'state',
  'streetAddress',
  'surname',
  'usageLocation',
  'userPrincipalName',
  'userType',
] as const;

export type UserPropertyName = (typeof userPropertyNames)[number];

const collectionProperties = new Set<string>(['businessPhones', 'otherMails']);
// Collections are replaced by PATCH, never changed in place, so empty ones can be shared.
const emptyCollection: readonly string[] = Object.freeze([]);

/** Returned by GET /users and GET /users/{id} without $select (Graph v1.0 default set). */
export const defaultUserSelect = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'] as const;

/** Properties a client may write (POST/PATCH); `passwordProfile` is handled on its own. */
export const writableUserProperties = new Set<string>(userPropertyNames.filter((p) => p !== 'createdDateTime' && p !== 'userType' && p !== 'signInSessionsValidFromDateTime'));

/** Properties `$filter` supports in the sandbox (Graph supports eq on each of these). */
export const filterableUserProperties = new Set<string>(['accountEnabled', 'userPrincipalName', 'mail', 'id', 'displayName', 'givenName', 'surname', 'mailNickname', 'employeeId', 'jobTitle', 'department', 'userType', 'onPremisesImmutableId', 'companyName', 'employeeType', 'usageLocation']);

// Copying a template keeps V8's fast property layout; adding 28 keys one by one turns the object into a dictionary.
const userTemplate: Record<string, unknown> = Object.fromEntries(userPropertyNames.map((name) => [name, null]));

export function newUserProps(values: Partial<Record<UserPropertyName, unknown>>): Record<string, unknown> {
  const props: Record<string, unknown> = { ...userTemplate };
  for (const name of userPropertyNames) {
    const value = values[name];
    if (value !== undefined) props[name] = value;
    else if (collectionProperties.has(name)) props[name] = emptyCollection;
  }
  return props;
}

export const groupPropertyNames = [
  'classification',
  'createdDateTime',
  'description',
  'displayName',
  'groupTypes',
  'isAssignableToRole',
  'mail',
  'mailEnabled',
  'mailNickname',
  'membershipRule',
  'onPremisesSyncEnabled',
  'proxyAddresses',
  'renewedDateTime',
  'securityEnabled',
  'securityIdentifier',
  'visibility',
] as const;

export const writableGroupProperties = new Set<string>(['description', 'displayName', 'groupTypes', 'mailEnabled', 'mailNickname', 'securityEnabled', 'visibility', 'isAssignableToRole', 'classification']);
export const filterableGroupProperties = new Set<string>(['id', 'displayName', 'mailNickname', 'mail', 'securityEnabled', 'mailEnabled']);

const groupTemplate: Record<string, unknown> = Object.fromEntries(groupPropertyNames.map((name) => [name, null]));

export function newGroupProps(values: Record<string, unknown>): Record<string, unknown> {
  const props: Record<string, unknown> = { ...groupTemplate };
  for (const name of groupPropertyNames) {
    const value = values[name];
    if (value !== undefined) props[name] = value;
    else if (name === 'groupTypes' || name === 'proxyAddresses') props[name] = [];
  }
  return props;
}
