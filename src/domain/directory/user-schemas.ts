import { z } from 'zod';

/*
 * The one description of a directory user: these schemas validate the admin API and the automation
 * queue, generate the OpenAPI document and give the domain its types. Length limits follow Microsoft
 * Graph's limits for the attribute each field is provisioned to, so what the directory accepts
 * Microsoft 365 accepts too.
 */

const text = (maxLength: number) => z.string().trim().min(1).max(maxLength);

// RFC 5321: 254 characters in all, 64 in the local part. Also keeps the default username valid.
/** An email address, trimmed and lower-cased: the join key with Microsoft 365. */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, { abort: true })
  .check(z.email())
  .refine((email) => email.indexOf('@') <= 64, 'the part before @ must be at most 64 characters');

// Graph's mailNickname: ASCII without @ ( ) \ [ ] " ; : < > , or spaces.
/** A username, Microsoft 365's mailNickname; unique across the directory regardless of case. */
export const usernameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64, { abort: true })
  .regex(/^[A-Za-z0-9!#$%&'*+\-./=?^_`{|}~]+$/, 'letters, digits and ! # $ % & \' * + - . / = ? ^ _ ` { | } ~ only');

export const userStateSchema = z.enum(['active', 'suspended']);

export const phoneNumberSchema = z.strictObject({
  type: z.enum(['work', 'mobile', 'home', 'other']),
  // The length check aborts: no pattern ever runs on an over-long value. The pattern is linear:
  // each run of spaces is followed by a character it cannot also match, so nothing backtracks. No
  // flags: the OpenAPI document carries the source only, so case is spelt out.
  number: z
    .string()
    .trim()
    .min(3)
    .max(64, { abort: true })
    .regex(/^\+? *[0-9()./-]+(?: +[0-9()./-]+)*(?:\s*(?:[xX]|[eE][xX][tT]\.?)\s*[0-9]{1,10})?$/, 'digits, spaces, + ( ) . / - and an optional extension only'),
});

export const addressSchema = z.strictObject({
  type: z.enum(['work', 'home', 'other']),
  streetAddress: text(1024).optional(),
  locality: text(128).optional(),
  region: text(128).optional(),
  postalCode: text(40).optional(),
  country: text(128).optional(),
}).meta({ id: 'Address' });

const idSchema = z.string().min(1).max(128);

/** The optional profile fields: absent on create means unset, `null` in a patch clears them. */
const optionalProfileFields = {
  firstName: text(64),
  lastName: text(64),
  alternateEmail: emailSchema,
  jobTitle: text(128),
  department: text(64),
  company: text(64),
  employeeId: text(16),
  employeeType: text(64),
  costCenter: text(64),
  location: text(128),
  phoneNumbers: z.array(phoneNumberSchema).max(10),
  addresses: z.array(addressSchema).max(5),
  managerId: idSchema,
};

type Fields = typeof optionalProfileFields;

function optional<S extends Record<string, z.ZodType>>(shape: S): { [K in keyof S]: z.ZodOptional<S[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, schema.optional()])) as { [K in keyof S]: z.ZodOptional<S[K]> };
}

function clearable<S extends Record<string, z.ZodType>>(shape: S): { [K in keyof S]: z.ZodOptional<z.ZodNullable<S[K]>> } {
  return Object.fromEntries(Object.entries(shape).map(([key, schema]) => [key, schema.nullable().optional()])) as { [K in keyof S]: z.ZodOptional<z.ZodNullable<S[K]>> };
}

/** POST /api/users and the automation `user.upsert` command. */
export const createUserSchema = z.strictObject({
  email: emailSchema,
  username: usernameSchema.optional().meta({ description: "Defaults to the email's local part; 409 if that is taken" }),
  displayName: text(256).optional().meta({ description: 'Defaults to "firstName lastName" (the username when both are absent)' }),
  ...optional<Fields>(optionalProfileFields),
}).meta({ id: 'UserCreate' });

/** PATCH /api/users/{id}: given fields replace, `null` clears an optional field (or resets displayName to its default). */
export const patchUserSchema = z.strictObject({
  email: emailSchema.optional(),
  username: usernameSchema.optional(),
  displayName: text(256).nullable().optional(),
  ...clearable<Fields>(optionalProfileFields),
}).meta({ id: 'UserPatch' });

/** A user as the API shows it: an allow-list (no password material, ever). */
export const userSchema = z.object({
  id: z.string(),
  email: z.string(),
  username: z.string(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  displayName: z.string(),
  alternateEmail: z.string().optional(),
  jobTitle: z.string().optional(),
  department: z.string().optional(),
  company: z.string().optional(),
  employeeId: z.string().optional(),
  employeeType: z.string().optional(),
  costCenter: z.string().optional(),
  location: z.string().optional(),
  phoneNumbers: z.array(phoneNumberSchema).optional(),
  addresses: z.array(addressSchema).optional(),
  managerId: z.string().optional(),
  state: userStateSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
}).meta({ id: 'User' });

/** Who a user is, next to their id in a list (bindings, held changes, events); absent once they are deleted. */
export const userSummarySchema = userSchema.pick({ email: true, displayName: true }).meta({ id: 'UserSummary', description: "Who the user is, as the directory holds them now; absent once the user is deleted" });

/** PUT /api/users/{id}/password. The policy (length, not the email or username) is checked by the use case. */
export const setPasswordSchema = z.strictObject({ password: z.string().min(1).max(256) });

export type CreateUserInput = z.output<typeof createUserSchema>;
export type UserPatch = z.output<typeof patchUserSchema>;
export type User = z.output<typeof userSchema>;
export type UserState = z.output<typeof userStateSchema>;
