import { exportAttributeNames, type ExportAttribute } from '../connections/connection';
import type { KeptNames } from './binding';
import type { M365Attributes, M365User, M365UserProperty } from './m365-user-gateway';

/** The optional export rules, named by directory attribute (DESIGN.md "Attribute mapping"); all off by default. */
export const exportAttributeRules = exportAttributeNames;

export type ExportAttributeRule = ExportAttribute;

/** The directory user fields provisioning maps (a subset of the directory's user). */
export interface ProvisionedUserFields {
  readonly id: string;
  readonly email: string;
  readonly firstName?: string | null;
  readonly lastName?: string | null;
  readonly displayName?: string | null;
  readonly alternateEmail?: string | null;
  readonly jobTitle?: string | null;
  readonly department?: string | null;
  readonly company?: string | null;
  readonly employeeId?: string | null;
  readonly employeeType?: string | null;
  readonly costCenter?: string | null;
  readonly location?: string | null;
  readonly phoneNumbers?: readonly { readonly type: string; readonly number: string }[] | null;
  readonly addresses?:
    | readonly {
        readonly type: string;
        readonly streetAddress?: string | null;
        readonly locality?: string | null;
        readonly region?: string | null;
        readonly postalCode?: string | null;
        readonly country?: string | null;
      }[]
    | null;
  readonly managerId?: string | null;
  readonly state: 'active' | 'suspended';
}

const alwaysMapped: readonly M365UserProperty[] = ['userPrincipalName', 'mailNickname', 'givenName', 'surname', 'displayName', 'accountEnabled'];

const propertiesOfRule: Readonly<Record<ExportAttributeRule, readonly M365UserProperty[]>> = {
  alternateEmail: ['otherMails'],
  businessPhones: ['businessPhones'],
  mobilePhone: ['mobilePhone'],
  address: ['streetAddress', 'city', 'state', 'postalCode', 'country'],
  department: ['department'],
  jobTitle: ['jobTitle'],
  manager: [],
  location: ['officeLocation'],
  company: ['companyName'],
  employeeId: ['employeeId'],
  employeeType: ['employeeType'],
  costCenter: ['employeeOrgData'],
  usageLocation: ['usageLocation'],
};

/** Properties whose values Graph compares without regard to case. */
const caseInsensitive = new Set<string>(['userPrincipalName', 'mailNickname']);

/** The Graph properties a connection with these rules manages, i.e. what every read selects. */
export function managedProperties(rules: ReadonlySet<ExportAttributeRule>): M365UserProperty[] {
  const out: M365UserProperty[] = ['id', ...alwaysMapped];
  for (const rule of exportAttributeRules) if (rules.has(rule)) out.push(...propertiesOfRule[rule]);
  return out;
}

function text(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? null : trimmed;
}

/**
 * Graph's mailNickname refuses `@ ( ) \ [ ] " ; : < > ,`, spaces and non-ASCII; Entra derives it
 * from the UPN's local part the same way.
 */
export function mailNicknameOf(email: string): string {
  const local = email.slice(0, email.lastIndexOf('@'));
  const cleaned = local.replace(/[^\x21-\x7e]|[@()\\[\]";:<>,]/g, '');
  return cleaned === '' ? 'user' : cleaned.slice(0, 64);
}

export function defaultDisplayName(user: ProvisionedUserFields): string {
  const explicit = text(user.displayName);
  if (explicit !== null) return explicit;
  const joined = [text(user.firstName), text(user.lastName)].filter((part) => part !== null).join(' ');
  // Graph requires a displayName; the email is what an admin recognises when names are missing.
  return joined === '' ? user.email : joined;
}

function phone(user: ProvisionedUserFields, type: string): string | null {
  return text(user.phoneNumbers?.find((p) => p.type === type)?.number);
}

/** An ISO 3166 alpha-2 code from the work address, which is what Graph's usageLocation takes. */
function countryCode(user: ProvisionedUserFields): string | null {
  const country = text(user.addresses?.find((a) => a.type === 'work')?.country);
  return country !== null && /^[A-Za-z]{2}$/.test(country) ? country.toUpperCase() : null;
}

/** An imported account's kept names, while the directory email is still the one they were kept with. */
export function keptNamesFor(email: string, kept: KeptNames | undefined): KeptNames | undefined {
  return kept !== undefined && kept.email === email ? kept : undefined;
}

/**
 * What the account should hold, for the managed properties only. `enabled` is false for a
 * suspended or unbound user. Absent directory values map to null (or []), so a take-over
 * overwrites what the account held before. An imported account's `kept` names stand in for the
 * ones its email maps to while the email is the one it was imported with.
 */
export function desiredAttributes(user: ProvisionedUserFields, rules: ReadonlySet<ExportAttributeRule>, enabled: boolean, kept?: KeptNames): M365Attributes {
  const names = keptNamesFor(user.email, kept);
  const attributes: Record<string, unknown> = {
    userPrincipalName: names?.userPrincipalName ?? user.email,
    mailNickname: names?.mailNickname ?? mailNicknameOf(user.email),
    givenName: text(user.firstName),
    surname: text(user.lastName),
    displayName: defaultDisplayName(user),
    accountEnabled: enabled,
  };
  const work = user.addresses?.find((a) => a.type === 'work');
  for (const rule of exportAttributeRules) {
    if (!rules.has(rule)) continue;
    switch (rule) {
      case 'alternateEmail': {
        const alternate = text(user.alternateEmail);
        attributes.otherMails = alternate === null ? [] : [alternate];
        break;
      }
      case 'businessPhones': {
        const number = phone(user, 'work');
        attributes.businessPhones = number === null ? [] : [number];
        break;
      }
      case 'mobilePhone':
        attributes.mobilePhone = phone(user, 'mobile');
        break;
      case 'address':
        attributes.streetAddress = text(work?.streetAddress);
        attributes.city = text(work?.locality);
        attributes.state = text(work?.region);
        attributes.postalCode = text(work?.postalCode);
        attributes.country = text(work?.country);
        break;
      case 'department':
        attributes.department = text(user.department);
        break;
      case 'jobTitle':
        attributes.jobTitle = text(user.jobTitle);
        break;
      case 'manager':
        break;
      case 'location':
        attributes.officeLocation = text(user.location);
        break;
      case 'company':
        attributes.companyName = text(user.company);
        break;
      case 'employeeId':
        attributes.employeeId = text(user.employeeId);
        break;
      case 'employeeType':
        attributes.employeeType = text(user.employeeType);
        break;
      case 'costCenter':
        attributes.employeeOrgData = { costCenter: text(user.costCenter) };
        break;
      case 'usageLocation': {
        const code = countryCode(user);
        // Without a country the connection's default (set on create) is left alone.
        if (code !== null) attributes.usageLocation = code;
        break;
      }
    }
  }
  return attributes;
}

function normalised(name: string, value: unknown): unknown {
  if (value === undefined || value === '') return null;
  if (typeof value === 'string' && caseInsensitive.has(name)) return value.toLowerCase();
  if (name === 'employeeOrgData') {
    const costCenter = (value as { costCenter?: unknown } | null)?.costCenter;
    return costCenter === undefined || costCenter === '' ? null : costCenter;
  }
  return value;
}

function same(name: string, a: unknown, b: unknown): boolean {
  const left = normalised(name, a);
  const right = normalised(name, b);
  if (Array.isArray(left) || Array.isArray(right)) {
    const l = Array.isArray(left) ? left : [];
    const r = Array.isArray(right) ? right : [];
    return l.length === r.length && l.every((item, i) => item === r[i]);
  }
  return left === right;
}

/** The desired attributes the account does not hold yet (only these are PATCHed). */
export function differingAttributes(desired: M365Attributes, actual: M365User): M365Attributes {
  const patch: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(desired)) {
    if (!same(name, value, actual[name])) patch[name] = value;
  }
  return patch;
}

/** Whether the account already holds every attribute of `targets`. */
export function holdsAttributes(targets: M365Attributes, actual: M365User): boolean {
  return Object.keys(differingAttributes(targets, actual)).length === 0;
}
