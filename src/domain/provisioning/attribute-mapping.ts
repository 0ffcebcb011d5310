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

const alwaysMappedFields: readonly string[] = ['email', 'firstName', 'lastName', 'displayName'];

const fieldsOfRule: Readonly<Record<ExportAttributeRule, readonly string[]>> = {
  alternateEmail: ['alternateEmail'],
  businessPhones: ['phoneNumbers'],
  mobilePhone: ['phoneNumbers'],
  address: ['addresses'],
  department: ['department'],
  jobTitle: ['jobTitle'],
  manager: ['managerId'],
  location: ['location'],
  company: ['company'],
  employeeId: ['employeeId'],
  employeeType: ['employeeType'],
  costCenter: ['costCenter'],
  usageLocation: ['addresses'],
};

/** Whether a change of these directory user fields can change what a connection with these rules writes. */
export function touchesMappedFields(changedFields: readonly string[], rules: ReadonlySet<ExportAttributeRule>): boolean {
  return changedFields.some((field) => alwaysMappedFields.includes(field) || exportAttributeRules.some((rule) => rules.has(rule) && fieldsOfRule[rule].includes(field)));
}

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

/** Whether a mapped value is empty: null, an empty list, or a cost centre without one. */
function isEmpty(name: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (name === 'employeeOrgData') return (value as { costCenter?: unknown }).costCenter === null;
  return false;
}

/**
 * The value each optional rule maps the directory user to, empty ones included (null, [] or a
 * cost centre of null). `usageLocation` is left out without a country: the connection's default,
 * set on create, is never taken away.
 */
function ruleValues(user: ProvisionedUserFields, rules: ReadonlySet<ExportAttributeRule>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const work = user.addresses?.find((a) => a.type === 'work');
  for (const rule of exportAttributeRules) {
    if (!rules.has(rule)) continue;
    switch (rule) {
      case 'alternateEmail': {
        const alternate = text(user.alternateEmail);
        values.otherMails = alternate === null ? [] : [alternate];
        break;
      }
      case 'businessPhones': {
        const number = phone(user, 'work');
        values.businessPhones = number === null ? [] : [number];
        break;
      }
      case 'mobilePhone':
        values.mobilePhone = phone(user, 'mobile');
        break;
      case 'address':
        values.streetAddress = text(work?.streetAddress);
        values.city = text(work?.locality);
        values.state = text(work?.region);
        values.postalCode = text(work?.postalCode);
        values.country = text(work?.country);
        break;
      case 'department':
        values.department = text(user.department);
        break;
      case 'jobTitle':
        values.jobTitle = text(user.jobTitle);
        break;
      case 'manager':
        break;
      case 'location':
        values.officeLocation = text(user.location);
        break;
      case 'company':
        values.companyName = text(user.company);
        break;
      case 'employeeId':
        values.employeeId = text(user.employeeId);
        break;
      case 'employeeType':
        values.employeeType = text(user.employeeType);
        break;
      case 'costCenter':
        values.employeeOrgData = { costCenter: text(user.costCenter) };
        break;
      case 'usageLocation': {
        const code = countryCode(user);
        if (code !== null) values.usageLocation = code;
        break;
      }
    }
  }
  return values;
}

const everyRule: ReadonlySet<ExportAttributeRule> = new Set(exportAttributeRules);

/**
 * The Graph properties the directory user has a value for, whatever rules are on. A binding keeps
 * this list from its last run, so an emptied value is told apart from one that was never there.
 */
export function valuedProperties(user: ProvisionedUserFields): string[] {
  const values: Record<string, unknown> = { givenName: text(user.firstName), surname: text(user.lastName), ...ruleValues(user, everyRule) };
  return Object.entries(values)
    .filter(([name, value]) => !isEmpty(name, value))
    .map(([name]) => name)
    .sort();
}

/** What happens to a Microsoft 365 value when the directory has none (connection setting `emptyValues`). */
export type EmptyValues = 'keep' | 'clear';

export interface DesiredOptions {
  /** An imported account's own sign-in names (see `KeptNames`). */
  readonly kept?: KeptNames | undefined;
  /** `keep` (the default) leaves Microsoft 365's value where the directory has none; `clear` blanks it. */
  readonly emptyValues?: EmptyValues;
  /**
   * Properties the directory had a value for at the binding's last run: one emptied since is a
   * change the admin made, and is cleared in Microsoft 365 even under `keep`.
   */
  readonly valued?: readonly string[] | undefined;
}

/**
 * What the account should hold, for the managed properties only. `enabled` is false for a
 * suspended or unbound user. An empty directory value leaves the account's value alone (it is left
 * out) unless `emptyValues` is `clear` or the directory had a value before (see `DesiredOptions`).
 * An imported account's `kept` names stand in for the ones its email maps to while the email is
 * the one it was imported with.
 */
export function desiredAttributes(user: ProvisionedUserFields, rules: ReadonlySet<ExportAttributeRule>, enabled: boolean, options: DesiredOptions = {}): M365Attributes {
  const names = keptNamesFor(user.email, options.kept);
  const attributes: Record<string, unknown> = {
    userPrincipalName: names?.userPrincipalName ?? user.email,
    mailNickname: names?.mailNickname ?? mailNicknameOf(user.email),
    displayName: defaultDisplayName(user),
    accountEnabled: enabled,
  };
  const optional: Record<string, unknown> = { givenName: text(user.firstName), surname: text(user.lastName), ...ruleValues(user, rules) };
  const clearAll = options.emptyValues === 'clear';
  const valued = new Set(options.valued ?? []);
  for (const [name, value] of Object.entries(optional)) {
    if (!isEmpty(name, value) || clearAll || valued.has(name)) attributes[name] = value;
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
