import { privilegedRoleTemplateIds } from '../../domain/provisioning/privileged-accounts';
import type { GraphClient } from './graph-client';

interface RawPage<T> {
  readonly value?: readonly T[];
  readonly '@odata.nextLink'?: string;
}

type RawMember = { readonly id: string; readonly '@odata.type'?: string };

const userType = '#microsoft.graph.user';

/** How long a tenant's privileged role holders are reused before they are read again. */
export const roleHoldersTtlMs = 5 * 60_000;

/**
 * Object ids (lower case) of the users holding a role Microsoft labels privileged: the tenant's
 * activated directory roles (one request), then the members of the privileged ones (one `$batch`
 * of up to 20 lists, pages followed). Throws what the client throws; callers translate it.
 */
export async function readPrivilegedRoleHolders(client: GraphClient): Promise<ReadonlySet<string>> {
  const roles = await client.get<RawPage<{ id: string; roleTemplateId?: string }>>('/directoryRoles?$select=id,roleTemplateId');
  const privileged = (roles.value ?? []).filter((role) => role.roleTemplateId !== undefined && privilegedRoleTemplateIds.has(role.roleTemplateId.toLowerCase()));
  const ids = new Set<string>();
  for (let i = 0; i < privileged.length; i += 20) {
    const answers = await client.batch<RawPage<RawMember>>(privileged.slice(i, i + 20).map((role, n) => ({ id: String(n), method: 'GET', url: `/directoryRoles/${encodeURIComponent(role.id)}/members?$select=id` })));
    for (const answer of answers) {
      if (answer.error !== undefined) throw answer.error;
      let page = answer.body;
      while (page !== undefined) {
        for (const member of page.value ?? []) if ((member['@odata.type'] ?? userType) === userType) ids.add(member.id.toLowerCase());
        const next = page['@odata.nextLink'];
        page = next === undefined ? undefined : await client.get<RawPage<RawMember>>(next);
      }
    }
  }
  return ids;
}
