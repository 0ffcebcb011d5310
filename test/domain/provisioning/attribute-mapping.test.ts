import { desiredAttributes, mailNicknameOf } from '../../../src/domain/provisioning/attribute-mapping';
import type { KeptNames } from '../../../src/domain/provisioning/binding';

const user = { id: 'u1', email: 'r.stone@contoso.com', username: 'rstone', firstName: 'River', lastName: 'Stone', state: 'active' as const };
const kept: KeptNames = { email: 'r.stone@contoso.com', userPrincipalName: 'river.stone@contoso.com', mailNickname: 'rstone' };

describe('desiredAttributes', () => {
  it('maps the email to the userPrincipalName and its local part to the mailNickname', () => {
    expect(desiredAttributes(user, new Set(), true)).toMatchObject({ userPrincipalName: 'r.stone@contoso.com', mailNickname: 'r.stone', givenName: 'River', surname: 'Stone', displayName: 'River Stone', accountEnabled: true });
  });

  it("keeps an imported account's own names while the email is the one it was imported with", () => {
    expect(desiredAttributes(user, new Set(), true, kept)).toMatchObject({ userPrincipalName: 'river.stone@contoso.com', mailNickname: 'rstone', givenName: 'River' });
  });

  it('maps a changed email as usual, which renames the account', () => {
    expect(desiredAttributes({ ...user, email: 'river.rock@contoso.com' }, new Set(), false, kept)).toMatchObject({ userPrincipalName: 'river.rock@contoso.com', mailNickname: 'river.rock', accountEnabled: false });
  });
});

describe('mailNicknameOf', () => {
  it('drops the characters Graph refuses and falls back to "user"', () => {
    expect(mailNicknameOf('jo (x) "q"@contoso.com')).toBe('joxq');
    expect(mailNicknameOf('@contoso.com')).toBe('user');
  });
});
