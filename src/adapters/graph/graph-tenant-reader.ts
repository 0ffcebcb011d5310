import { err, ok, type Result } from '../../domain/result';
import type { DomainFederation, TenantDomain, TenantFacts, TenantReader, TenantReadFailure } from '../../domain/connections/tenant-reader';
import type { GraphClient } from './graph-client';
import type { GraphClientFactory } from './graph-client-factory';
import { translateGraphError, type GraphRequestError } from './graph-error-translator';

interface GraphDomain {
  readonly id: string;
  readonly authenticationType?: string;
  readonly isVerified?: boolean;
  readonly isInitial?: boolean;
  readonly isDefault?: boolean;
}

function toFailure(error: GraphRequestError): TenantReadFailure {
  if (error.code === 'stop') return { code: 'forbidden', message: `${error.message} (the consent may lack a permission)` };
  if (error.code === 'reauthorization_required') return { code: 'reauthorization_required', message: error.message };
  return { code: 'unavailable', message: error.message };
}

async function readDomains(graph: GraphClient): Promise<TenantDomain[]> {
  const domains = await graph.all<GraphDomain>('/domains?$select=id,authenticationType,isVerified,isInitial,isDefault');
  return Promise.all(
    domains.map(async (d) => {
      const authenticationType = d.authenticationType ?? 'Managed';
      // Only federated domains have a federation configuration worth a request.
      const federation = authenticationType.toLowerCase() === 'federated' ? await graph.all<DomainFederation>(`/domains/${encodeURIComponent(d.id)}/federationConfiguration`) : [];
      return { id: d.id.toLowerCase(), isVerified: d.isVerified === true, isInitial: d.isInitial === true, isDefault: d.isDefault === true, authenticationType, federation };
    }),
  );
}

async function guarded<T>(read: () => Promise<T>): Promise<Result<T, TenantReadFailure>> {
  try {
    return ok(await read());
  } catch (error) {
    return err(toFailure(translateGraphError(error)));
  }
}

/** Reads what consent and domain changes need from Graph, with read-only calls. */
export function createGraphTenantReader(graph: GraphClientFactory): TenantReader {
  return {
    readConsentFacts(accessToken) {
      const client = graph.withAccessToken(accessToken);
      return guarded(async (): Promise<TenantFacts> => {
        const [me, organizations, roles, domains] = await Promise.all([
          client.get<{ id: string; userPrincipalName: string }>('/me?$select=id,userPrincipalName'),
          client.get<{ value: { id: string; displayName?: string }[] }>('/organization?$select=id,displayName'),
          client.all<{ roleTemplateId?: string }>('/me/transitiveMemberOf/microsoft.graph.directoryRole?$select=roleTemplateId'),
          readDomains(client),
        ]);
        const organization = organizations.value[0];
        if (organization === undefined) throw new Error('Graph returned no organization for the tenant');
        return {
          tenantId: organization.id,
          tenantName: organization.displayName ?? organization.id,
          account: { objectId: me.id, upn: me.userPrincipalName },
          roleTemplateIds: roles.flatMap((r) => (r.roleTemplateId === undefined ? [] : [r.roleTemplateId])),
          domains,
        };
      });
    },
    readDomains(connectionId) {
      return guarded(() => readDomains(graph.forConnection(connectionId)));
    },
  };
}
