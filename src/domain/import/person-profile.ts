import { createUserSchema, type CreateUserInput } from '../directory/user-schemas';
import type { M365Person } from './m365-directory';

/** The directory profile fields an import fills from Microsoft 365 (everything but email, username and manager). */
export type ImportedProfile = Omit<CreateUserInput, 'email' | 'username' | 'managerId' | 'displayName'>;

/** The profile fields an import sets; a refresh clears those Microsoft 365 no longer holds. */
export const importedProfileFields = [
  'firstName',
  'lastName',
  'alternateEmail',
  'jobTitle',
  'department',
  'company',
  'employeeId',
  'employeeType',
  'costCenter',
  'location',
  'phoneNumbers',
  'addresses',
] as const satisfies readonly (keyof ImportedProfile)[];

function text(value: string | null | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function workAddress(person: M365Person): NonNullable<CreateUserInput['addresses']>[number] | undefined {
  const parts = {
    streetAddress: text(person.streetAddress),
    locality: text(person.city),
    region: text(person.state),
    postalCode: text(person.postalCode),
    country: text(person.country),
  };
  const given = Object.fromEntries(Object.entries(parts).filter(([, value]) => value !== undefined));
  return Object.keys(given).length === 0 ? undefined : { type: 'work', ...given };
}

/**
 * The inverse of the export mapping (DESIGN.md "Attribute mapping"): what the account holds, as
 * directory fields, so switching an export rule on later finds both sides equal and writes nothing.
 * A value the directory's rules refuse (a phone number in an unusual form, an over-long employee
 * id) is left out rather than failing the whole user; the account keeps it, since empty never blanks.
 */
export function importedProfile(person: M365Person): ImportedProfile {
  const phoneNumbers = [
    ...(text(person.businessPhones?.[0]) === undefined ? [] : [{ type: 'work' as const, number: text(person.businessPhones?.[0]) as string }]),
    ...(text(person.mobilePhone) === undefined ? [] : [{ type: 'mobile' as const, number: text(person.mobilePhone) as string }]),
  ];
  const address = workAddress(person);
  const candidates: Record<string, unknown> = {
    firstName: text(person.givenName),
    lastName: text(person.surname),
    alternateEmail: text(person.otherMails?.[0]),
    jobTitle: text(person.jobTitle),
    department: text(person.department),
    company: text(person.companyName),
    employeeId: text(person.employeeId),
    employeeType: text(person.employeeType),
    costCenter: text(person.employeeOrgData?.costCenter),
    location: text(person.officeLocation),
    phoneNumbers: phoneNumbers.length === 0 ? undefined : phoneNumbers,
    addresses: address === undefined ? undefined : [address],
  };
  const profile: Record<string, unknown> = {};
  for (const field of importedProfileFields) {
    const value = candidates[field];
    if (value === undefined) continue;
    const parsed = createUserSchema.shape[field].safeParse(value);
    if (parsed.success && parsed.data !== undefined) profile[field] = parsed.data;
  }
  return profile as ImportedProfile;
}
