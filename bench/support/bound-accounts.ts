import { randomUUID } from 'node:crypto';
import type { SandboxHandle } from '../../src/adapters/sandbox/sandbox-server';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import type { LocalHost } from '../../src/app/host/local-host';
import type { UserRecord } from '../../src/domain/directory/user-records';
import { bindingClaimKey, type UserBindingRecord } from '../../src/domain/provisioning/binding';
import { mapConcurrently } from '../../src/domain/reconcile/map-concurrently';
import { sandboxCall } from './sandbox-call';

const contoso = sandboxTenants.contoso;

/** A seeded account to bind, as the tenant holds it. */
export interface Account {
  readonly id: string;
  readonly userPrincipalName: string;
  readonly givenName: string;
  readonly surname: string;
  readonly displayName: string;
}

/** A child command (see sandbox-process.ts): adds `count` generated users to contoso. */
export async function seedContosoUsers(sandbox: SandboxHandle, payload: { count: number }): Promise<number> {
  return Promise.resolve(sandbox.control.seedUsers(contoso.id, payload.count));
}

/**
 * A child command: every `every`-th generated account of contoso, up to `count`, so the bound ones
 * are spread over the whole tenant.
 */
export async function seededAccounts(sandbox: SandboxHandle, payload: { every: number; count: number }): Promise<Account[]> {
  const token = sandbox.control.issueToken(contoso.id, contoso.adminUpn).access_token;
  const accounts: Account[] = [];
  let seen = 0;
  let next: string | undefined = `${sandbox.url}/v1.0/users?$select=id,userPrincipalName,givenName,surname,displayName&$top=999`;
  while (next !== undefined && accounts.length < payload.count) {
    const page = await sandboxCall(next, { token });
    for (const account of page.body.value as Account[]) {
      if (!account.userPrincipalName.startsWith('sandbox.user')) continue;
      if (seen % payload.every === 0 && accounts.length < payload.count) accounts.push(account);
      seen += 1;
    }
    next = page.body['@odata.nextLink'] as string | undefined;
  }
  return accounts;
}

/**
 * Directory users in step with their accounts, bound and provisioned, written straight into the
 * store (a benchmark of what follows binding, not of binding). `fields` adds directory values the
 * accounts do not hold.
 */
export async function seedBindings(host: LocalHost, connectionId: string, accounts: readonly Account[], fields: Partial<Pick<UserRecord, 'department' | 'jobTitle'>> = {}): Promise<void> {
  const { store } = host.services;
  const now = new Date().toISOString();
  await mapConcurrently(accounts, 32, async (account) => {
    const userId = randomUUID();
    const user: UserRecord = {
      id: userId,
      email: account.userPrincipalName,
      username: account.userPrincipalName.slice(0, account.userPrincipalName.indexOf('@')),
      firstName: account.givenName,
      lastName: account.surname,
      displayName: account.displayName,
      ...fields,
      state: 'active',
      createdAt: now,
      updatedAt: now,
    };
    const binding: UserBindingRecord = {
      kind: 'user',
      connectionId,
      userId,
      incarnation: randomUUID(),
      state: 'provisioned',
      via: { direct: true, groups: [] },
      changeSeq: 1,
      handledChangeSeq: 1,
      m365UserId: account.id,
      attempts: 0,
      lastSyncedAt: now,
      linkCount: 1,
      writeSeq: 0,
      passwordPending: false,
      createdAt: now,
      updatedAt: now,
    };
    await store.upsert('users', userId, userId, user);
    await store.upsert('bindings', connectionId, userId, binding);
    await store.upsert('uniques', bindingClaimKey(userId), bindingClaimKey(userId), { userId, connectionId, claimedAt: now });
  });
}
