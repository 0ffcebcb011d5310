import { desiredAttributes, mailNicknameOf, valuedProperties } from '../../../src/domain/provisioning/attribute-mapping';
import type { KeptNames } from '../../../src/domain/provisioning/binding';

const user = { id: 'u1', email: 'r.stone@contoso.com', username: 'rstone', firstName: 'River', lastName: 'Stone', state: 'active' as const };
const kept: KeptNames = { email: 'r.stone@contoso.com', userPrincipalName: 'river.stone@contoso.com', mailNickname: 'rstone' };

describe('desiredAttributes', () => {
  it('maps the email to the userPrincipalName and its local part to the mailNickname', () => {
    expect(desiredAttributes(user, new Set(), true)).toMatchObject({ userPrincipalName: 'r.stone@contoso.com', mailNickname: 'r.stone', givenName: 'River', surname: 'Stone', displayName: 'River Stone', accountEnabled: true });
  });

  it("keeps an imported account's own names while the email is the one it was imported with", () => {
    expect(desiredAttributes(user, new Set(), true, { kept })).toMatchObject({ userPrincipalName: 'river.stone@contoso.com', mailNickname: 'rstone', givenName: 'River' });
  });

  it('maps a changed email as usual, which renames the account', () => {
    expect(desiredAttributes({ ...user, email: 'river.rock@contoso.com' }, new Set(), false, { kept })).toMatchObject({ userPrincipalName: 'river.rock@contoso.com', mailNickname: 'river.rock', accountEnabled: false });
  });
});

describe('empty directory values', () => {
  const rules = new Set(['jobTitle', 'department', 'businessPhones', 'costCenter'] as const);
  const bare = { id: 'u2', email: 'sam@contoso.com', state: 'active' as const, jobTitle: 'Engineer' };

  it('leave what Microsoft 365 holds by default: the empty attributes are not part of the desired state', () => {
    const desired = desiredAttributes(bare, rules, true);
    expect(desired).toMatchObject({ jobTitle: 'Engineer', displayName: 'sam@contoso.com' });
    for (const name of ['department', 'businessPhones', 'employeeOrgData', 'givenName', 'surname']) expect(desired).not.toHaveProperty(name);
  });

  it('are blanked when the connection says emptyValues "clear"', () => {
    expect(desiredAttributes(bare, rules, true, { emptyValues: 'clear' })).toMatchObject({ department: null, businessPhones: [], employeeOrgData: { costCenter: null }, givenName: null });
  });

  it('clear a value the directory had at the last run: emptying it was the admin\'s change', () => {
    const desired = desiredAttributes({ ...bare, jobTitle: null }, rules, true, { valued: ['jobTitle'] });
    expect(desired).toMatchObject({ jobTitle: null });
    expect(desired).not.toHaveProperty('department');
  });

  it('are told apart by the properties a user has values for, whatever rules are on', () => {
    expect(valuedProperties({ ...bare, firstName: 'Sam', costCenter: 'CC-1', phoneNumbers: [{ type: 'mobile', number: '+1 555 0100' }] })).toEqual(['employeeOrgData', 'givenName', 'jobTitle', 'mobilePhone']);
  });
});

describe('mailNicknameOf', () => {
  it('drops the characters Graph refuses and falls back to "user"', () => {
    expect(mailNicknameOf('jo (x) "q"@contoso.com')).toBe('joxq');
    expect(mailNicknameOf('@contoso.com')).toBe('user');
  });
});
