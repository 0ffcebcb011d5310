import { createHash } from 'node:crypto';

/** Role template ids are the same in every Entra tenant (Entra built-in roles reference). */
export const directoryRoleTemplates = {
  globalAdministrator: '62e90394-69f5-4237-9190-012177145e10',
  userAdministrator: 'fe930be7-5e62-47db-91af-98c3a49a38b1',
  helpdeskAdministrator: '729827e3-9c14-49f7-bb1b-9608f156bbb8',
  groupsAdministrator: 'fdd7a751-b60b-444a-984c-02652fe8fa1c',
  privilegedRoleAdministrator: 'e8611ab8-c189-46e8-94e1-60213ab1f814',
  privilegedAuthenticationAdministrator: '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
  securityAdministrator: '194ae4cb-b126-40b2-bd5b-6091b380977d',
  globalReader: 'f2ef992c-3afb-46b9-b7cf-a126ee74c451',
  exchangeAdministrator: '29232cdf-9323-42fd-ade2-1d097af3e4de',
  licenseAdministrator: '4d6ac14f-3453-41d0-bef9-a3e0c569773a',
} as const;

export const directoryRoleDefinitions: Readonly<Record<string, { displayName: string; description: string }>> = {
  [directoryRoleTemplates.globalAdministrator]: {
    displayName: 'Global Administrator',
    description: 'Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.',
  },
  [directoryRoleTemplates.userAdministrator]: {
    displayName: 'User Administrator',
    description: 'Can manage all aspects of users and groups, including resetting passwords for limited admins.',
  },
  [directoryRoleTemplates.helpdeskAdministrator]: {
    displayName: 'Helpdesk Administrator',
    description: 'Can reset passwords for non-administrators and Helpdesk Administrators.',
  },
  [directoryRoleTemplates.groupsAdministrator]: {
    displayName: 'Groups Administrator',
    description: 'Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports.',
  },
  [directoryRoleTemplates.privilegedRoleAdministrator]: {
    displayName: 'Privileged Role Administrator',
    description: 'Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.',
  },
  [directoryRoleTemplates.privilegedAuthenticationAdministrator]: {
    displayName: 'Privileged Authentication Administrator',
    description: 'Can access to view, set and reset authentication method information for any user (admin or non-admin).',
  },
  [directoryRoleTemplates.securityAdministrator]: {
    displayName: 'Security Administrator',
    description: 'Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.',
  },
  [directoryRoleTemplates.globalReader]: {
    displayName: 'Global Reader',
    description: 'Can read everything that a Global Administrator can, but not update anything.',
  },
  [directoryRoleTemplates.exchangeAdministrator]: {
    displayName: 'Exchange Administrator',
    description: 'Can manage all aspects of the Exchange product.',
  },
  [directoryRoleTemplates.licenseAdministrator]: {
    displayName: 'License Administrator',
    description: 'Can manage product licenses on users and groups.',
  },
};

/** Directory roles some Contoso staff hold (by staff index): privileged ones and two that are not. */
const contosoStaffRoles: Readonly<Record<number, readonly string[]>> = {
  5: [directoryRoleTemplates.userAdministrator],
  9: [directoryRoleTemplates.securityAdministrator, directoryRoleTemplates.globalReader],
  13: [directoryRoleTemplates.exchangeAdministrator],
  17: [directoryRoleTemplates.privilegedRoleAdministrator],
  21: [directoryRoleTemplates.licenseAdministrator],
};

/** The seeded tenants. Ids are fixed so tests elsewhere can import them. */
export const sandboxTenants = {
  contoso: {
    id: '6f8c2a1e-3b4d-4e5f-9a6b-7c8d9e0f1a2b',
    name: 'contoso',
    displayName: 'Contoso',
    defaultDomain: 'contoso.com',
    initialDomain: 'contoso.onmicrosoft.com',
    unverifiedDomain: 'contoso.org',
    adminUpn: 'admin@contoso.com',
    helpdeskUpn: 'helpdesk@contoso.com',
  },
  fabrikam: {
    id: '2b7e4c9d-5a3f-4b1e-8c6d-0e9f8a7b6c5d',
    name: 'fabrikam',
    displayName: 'Fabrikam',
    defaultDomain: 'fabrikam.com',
    initialDomain: 'fabrikam.onmicrosoft.com',
    adminUpn: 'admin@fabrikam.com',
  },
  northwind: {
    id: '9d4a6b8c-1e2f-4a3b-b5c6-d7e8f9a0b1c2',
    name: 'northwind',
    displayName: 'Northwind Shop',
    defaultDomain: 'northwindshop.com',
    initialDomain: 'NETORGFT1234567.onmicrosoft.com',
    adminUpn: 'admin@northwindshop.com',
  },
} as const;

export type SandboxTenantName = keyof typeof sandboxTenants;

/**
 * The password every account signs in with on the sandbox's sign-in page. A simulator's, shown on
 * purpose (on that page and by `npm start`): the sandbox serves loopback only and holds no real account.
 */
export const sandboxSignInPassword = 'Sandbox-Passw0rd!';

/** An account that can consent on the sandbox's sign-in page: a seeded Global Administrator. */
export interface SandboxSignInAccount {
  readonly tenant: SandboxTenantName;
  readonly upn: string;
  readonly password: string;
  /** What consent with it shows, when that is not a connected tenant. */
  readonly note?: string;
}

export const sandboxSignInAccounts: readonly SandboxSignInAccount[] = [
  { tenant: 'contoso', upn: sandboxTenants.contoso.adminUpn, password: sandboxSignInPassword },
  { tenant: 'fabrikam', upn: sandboxTenants.fabrikam.adminUpn, password: sandboxSignInPassword },
  { tenant: 'northwind', upn: sandboxTenants.northwind.adminUpn, password: sandboxSignInPassword, note: 'GoDaddy-operated: consent is refused on purpose' },
];

/** A stable GUID derived from a name, so seeded object ids survive resets and restarts. */
export function stableGuid(...parts: string[]): string {
  const bytes = createHash('sha1').update(parts.join('\u0000')).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  // One flat string (no slices or concatenations kept alive): a 100,000-user tenant holds many ids.
  return Buffer.from(`${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`, 'latin1').toString('latin1');
}

/** Graph `internalDomainFederation` resource (v1.0). */
export interface DomainFederationSeed {
  readonly id: string;
  readonly displayName: string;
  readonly issuerUri: string;
  readonly metadataExchangeUri: string;
  readonly signingCertificate: string;
  readonly passiveSignInUri: string;
  readonly preferredAuthenticationProtocol: 'wsFed' | 'saml';
  readonly activeSignInUri: string;
  readonly signOutUri: string;
  readonly promptLoginBehavior: string;
  readonly isSignedAuthenticationRequestRequired: boolean;
  readonly nextSigningCertificate: string | null;
  readonly federatedIdpMfaBehavior: string;
}

export interface DomainSeed {
  readonly id: string;
  readonly authenticationType: 'Managed' | 'Federated';
  readonly isDefault: boolean;
  readonly isInitial: boolean;
  readonly isVerified: boolean;
  readonly federation?: DomainFederationSeed;
}

export interface UserSeed {
  readonly upn: string;
  readonly givenName: string;
  readonly surname: string;
  readonly jobTitle?: string;
  readonly department?: string;
  readonly accountEnabled?: boolean;
  /** Mail is null for users without a mailbox; seeded users have one unless told otherwise. */
  readonly hasMailbox?: boolean;
  readonly roles?: readonly string[];
  readonly managerUpn?: string;
  /** Further Graph properties (phones, office, address, employee data), as a real tenant holds them. */
  readonly profile?: Readonly<Record<string, unknown>>;
}

export interface GroupSeed {
  readonly displayName: string;
  readonly mailNickname: string;
  readonly description: string;
  readonly memberUpns: readonly string[];
}

export interface TenantSeed {
  readonly id: string;
  readonly name: string;
  readonly displayName: string;
  readonly createdDateTime: string;
  readonly domains: readonly DomainSeed[];
  readonly users: readonly UserSeed[];
  readonly groups: readonly GroupSeed[];
}

const givenNames = ['Avery', 'Blake', 'Casey', 'Devon', 'Emery', 'Finley', 'Harper', 'Jordan', 'Kendall', 'Logan', 'Morgan', 'Parker'];
const surnames = ['Archer', 'Baker', 'Carter', 'Dalton', 'Ellis', 'Foster', 'Garner', 'Hayes', 'Irving', 'Keller'];
const departments = ['Engineering', 'Sales', 'Finance', 'Marketing'];

/** Contoso's offices: what Entra holds in a user's address and usage location. */
const offices = [
  { officeLocation: 'Redmond B40/1120', streetAddress: '1 Microsoft Way', city: 'Redmond', state: 'WA', postalCode: '98052', country: 'United States', usageLocation: 'US' },
  { officeLocation: 'London Paddington 4.12', streetAddress: '2 Kingdom Street', city: 'London', state: null, postalCode: 'W2 6BD', country: 'United Kingdom', usageLocation: 'GB' },
  { officeLocation: 'Munich Schwabing 3.07', streetAddress: 'Walter-Gropius-Strasse 5', city: 'München', state: 'Bayern', postalCode: '80807', country: 'Germany', usageLocation: 'DE' },
] as const;

/** The profile a seeded Contoso user has: some fields left empty on purpose, as in real tenants. */
function contosoProfile(i: number, department: string): Record<string, unknown> {
  const office = offices[i % offices.length] ?? offices[0];
  return {
    ...office,
    companyName: 'Contoso Ltd',
    employeeId: `C${String(10_000 + i)}`,
    employeeType: i % 7 === 6 ? 'Contractor' : 'Employee',
    employeeOrgData: { costCenter: `CC-${department.slice(0, 3).toUpperCase()}-${String(100 + (i % 4))}`, division: department },
    businessPhones: i % 5 === 4 ? [] : [`+1 425 555 ${String(100 + i).padStart(4, '0')}`],
    mobilePhone: i % 3 === 0 ? `+1 206 555 ${String(200 + i).padStart(4, '0')}` : null,
  };
}

function contosoStaff(): UserSeed[] {
  const staff: UserSeed[] = [];
  for (let i = 0; i < 32; i += 1) {
    const givenName = givenNames[i % givenNames.length] ?? 'Avery';
    const surname = surnames[Math.floor(i / 3) % surnames.length] ?? 'Archer';
    staff.push({
      upn: `${givenName}.${surname}${i < 12 ? '' : String(i)}@contoso.com`.toLowerCase(),
      givenName,
      surname,
      jobTitle: i % 8 === 0 ? 'Manager' : 'Specialist',
      department: departments[i % departments.length] ?? 'Engineering',
      managerUpn: i % 8 === 0 ? 'admin@contoso.com' : `${givenNames[i - (i % 8)] ?? 'Avery'}.${surnames[Math.floor((i - (i % 8)) / 3) % surnames.length] ?? 'Archer'}${i - (i % 8) < 12 ? '' : String(i - (i % 8))}@contoso.com`.toLowerCase(),
      profile: contosoProfile(i, departments[i % departments.length] ?? 'Engineering'),
      ...(contosoStaffRoles[i] === undefined ? {} : { roles: contosoStaffRoles[i] }),
    });
  }
  return staff;
}

// GoDaddy-operated tenants federate their custom domains to GoDaddy's identity service.
const godaddyFederation: DomainFederationSeed = {
  id: '3c1b5f0a-7e2d-4c9b-8a61-2f4e6d8b0a13',
  displayName: 'GoDaddy',
  issuerUri: 'urn:uri:sso.godaddy.com:northwindshop.com',
  metadataExchangeUri: 'https://sso.secureserver.net/federation/mex',
  signingCertificate: 'MIIC8DCCAdigAwIBAgIQY2FuZGJveC1nb2RhZGR5LWZlZGVyYXRpb24',
  passiveSignInUri: 'https://sso.secureserver.net/federation/wsfed?realm=urn:federation:MicrosoftOnline',
  preferredAuthenticationProtocol: 'wsFed',
  activeSignInUri: 'https://sso.secureserver.net/federation/trust/2005/usernamemixed',
  signOutUri: 'https://sso.godaddy.com/logout',
  promptLoginBehavior: 'nativeSupport',
  isSignedAuthenticationRequestRequired: false,
  nextSigningCertificate: null,
  federatedIdpMfaBehavior: 'acceptIfMfaDoneByFederatedIdp',
};

/** The three seeded tenants, built fresh (deterministic) every time. */
export function tenantSeeds(): TenantSeed[] {
  const c = sandboxTenants.contoso;
  const f = sandboxTenants.fabrikam;
  const n = sandboxTenants.northwind;
  const staff = contosoStaff();
  const contosoUsers: UserSeed[] = [
    { upn: c.adminUpn, givenName: 'Contoso', surname: 'Admin', jobTitle: 'IT Administrator', department: 'IT', roles: [directoryRoleTemplates.globalAdministrator], profile: contosoProfile(100, 'IT') },
    { upn: c.helpdeskUpn, givenName: 'Contoso', surname: 'Helpdesk', jobTitle: 'Support Engineer', department: 'IT', roles: [directoryRoleTemplates.helpdeskAdministrator], profile: contosoProfile(101, 'IT') },
    { upn: "o'brien@contoso.com", givenName: 'Pat', surname: "O'Brien", jobTitle: 'Analyst', department: 'Finance' },
    { upn: 'former.employee@contoso.com', givenName: 'Former', surname: 'Employee', accountEnabled: false },
    { upn: 'service.account@contoso.onmicrosoft.com', givenName: 'Service', surname: 'Account', hasMailbox: false },
    ...staff,
  ];
  const engineering = staff.filter((u) => u.department === 'Engineering').map((u) => u.upn);
  const sales = staff.filter((u) => u.department === 'Sales').map((u) => u.upn);
  return [
    {
      id: c.id,
      name: c.name,
      displayName: c.displayName,
      createdDateTime: '2019-03-04T17:21:09Z',
      domains: [
        { id: c.defaultDomain, authenticationType: 'Managed', isDefault: true, isInitial: false, isVerified: true },
        { id: c.initialDomain, authenticationType: 'Managed', isDefault: false, isInitial: true, isVerified: true },
        { id: c.unverifiedDomain, authenticationType: 'Managed', isDefault: false, isInitial: false, isVerified: false },
      ],
      users: contosoUsers,
      groups: [
        { displayName: 'All Staff', mailNickname: 'allstaff', description: 'Everyone at Contoso', memberUpns: contosoUsers.filter((u) => u.accountEnabled !== false && u.hasMailbox !== false).map((u) => u.upn) },
        { displayName: 'Engineering', mailNickname: 'engineering', description: 'Engineering department', memberUpns: engineering },
        { displayName: 'Sales', mailNickname: 'sales', description: 'Sales department', memberUpns: sales },
        { displayName: 'IT Admins', mailNickname: 'itadmins', description: 'Directory administrators', memberUpns: [c.adminUpn, c.helpdeskUpn] },
        { displayName: 'Empty Project', mailNickname: 'emptyproject', description: 'A group without members', memberUpns: [] },
      ],
    },
    {
      id: f.id,
      name: f.name,
      displayName: f.displayName,
      createdDateTime: '2020-06-15T08:02:44Z',
      domains: [
        { id: f.defaultDomain, authenticationType: 'Managed', isDefault: true, isInitial: false, isVerified: true },
        { id: f.initialDomain, authenticationType: 'Managed', isDefault: false, isInitial: true, isVerified: true },
      ],
      users: [
        { upn: f.adminUpn, givenName: 'Fabrikam', surname: 'Admin', jobTitle: 'IT Administrator', roles: [directoryRoleTemplates.globalAdministrator] },
        { upn: 'finley.hayes@fabrikam.com', givenName: 'Finley', surname: 'Hayes', jobTitle: 'Designer' },
        { upn: 'morgan.ellis@fabrikam.com', givenName: 'Morgan', surname: 'Ellis', jobTitle: 'Buyer' },
        { upn: 'parker.foster@fabrikam.com', givenName: 'Parker', surname: 'Foster', jobTitle: 'Planner' },
      ],
      groups: [{ displayName: 'Fabrikam Staff', mailNickname: 'fabrikamstaff', description: 'Everyone at Fabrikam', memberUpns: ['finley.hayes@fabrikam.com', 'morgan.ellis@fabrikam.com'] }],
    },
    {
      id: n.id,
      name: n.name,
      displayName: n.displayName,
      createdDateTime: '2021-11-02T13:45:30Z',
      domains: [
        { id: n.defaultDomain, authenticationType: 'Federated', isDefault: true, isInitial: false, isVerified: true, federation: godaddyFederation },
        { id: n.initialDomain, authenticationType: 'Managed', isDefault: false, isInitial: true, isVerified: true },
      ],
      users: [
        { upn: n.adminUpn, givenName: 'Northwind', surname: 'Admin', roles: [directoryRoleTemplates.globalAdministrator] },
        { upn: `admin@${n.initialDomain}`, givenName: 'Tenant', surname: 'Admin', hasMailbox: false, roles: [directoryRoleTemplates.globalAdministrator] },
        { upn: 'casey.baker@northwindshop.com', givenName: 'Casey', surname: 'Baker', jobTitle: 'Owner' },
      ],
      groups: [],
    },
  ];
}
