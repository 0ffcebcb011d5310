import { directoryCommandSchema } from '../../../src/domain/directory/directory-commands';
import { createUserSchema, patchUserSchema, phoneNumberSchema } from '../../../src/domain/directory/user-schemas';

describe('user schemas', () => {
  it.each(['+44 7700 900123', '+1 (555) 123-4567', '555.123.4567 x 12', '555-1234 ext. 5', '555 1234EXT9', '+ 44  20 7946 0958', '(0)20/7946-0958'])('accept the phone number %s', (number) => {
    expect(phoneNumberSchema.safeParse({ type: 'work', number }).success).toBe(true);
  });

  it.each(['12', 'call me', '555 1234 x', '555-1234 ext 12345678901', '+44 7700 900123!', `1${' '.repeat(70)}2`])('refuse the phone number %j', (number) => {
    expect(phoneNumberSchema.safeParse({ type: 'work', number }).success).toBe(false);
  });

  // The review's input: the pattern once backtracked quadratically over it, before any length check
  // (about 40 s); the bound is loose for a loaded CI machine.
  it.each([
    ['POST /api/users', (number: string) => createUserSchema.safeParse({ email: 'a@example.com', phoneNumbers: [{ type: 'work', number }] })],
    ['PATCH /api/users/{id}', (number: string) => patchUserSchema.safeParse({ phoneNumbers: [{ type: 'work', number }] })],
    ['the user.upsert command', (number: string) => directoryCommandSchema.safeParse({ command: 'user.upsert', user: { email: 'a@example.com', phoneNumbers: [{ type: 'work', number }] } })],
  ])('refuse a phone number of 250,000 spaces at once on %s', (_path, parse) => {
    for (const number of [`1${' '.repeat(250_000)}!`, `1${' 1'.repeat(125_000)}!`, `1${'\t'.repeat(250_000)}x`]) {
      const started = performance.now();
      const result = parse(number);
      expect(result.success).toBe(false);
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });
});
