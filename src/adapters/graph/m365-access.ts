import https from 'node:https';
import type { INetworkModule } from '@azure/msal-node';
import type { Config } from '../../app/config';
import type { Clock } from '../../domain/ports/clock';
import type { DocumentStore } from '../../domain/ports/document-store';
import type { Logger } from '../../domain/ports/logger';
import type { SecretStore } from '../../domain/ports/secret-store';
import { createConnectionActivity, type ConnectionActivity } from '../../domain/connections/connection-activity';
import { createConnectionTokenProvider } from '../../domain/connections/connection-token-provider';
import type { IdentityPlatform } from '../../domain/connections/identity-platform';
import type { TenantReader } from '../../domain/connections/tenant-reader';
import type { TokenProvider } from '../../domain/connections/token-provider';
import { MsalIdentityPlatform, type MsalClientCredential } from '../msal/msal-identity-platform';
import { managedIdentityAssertion } from '../msal/managed-identity-assertion';
import type { GraphRequestObserver } from '../telemetry/graph-telemetry-middleware';
import type { Metrics } from '../../domain/ports/metrics';
import { createGraphClientFactory, type GraphClientFactory } from './graph-client-factory';
import { createGraphTenantReader } from './graph-tenant-reader';

/** Everything that talks to Microsoft 365 for connections: msal-node, tokens, Graph clients. */
export interface M365Access {
  readonly identity: IdentityPlatform;
  readonly tokens: TokenProvider;
  readonly graph: GraphClientFactory;
  readonly tenants: TenantReader;
  /** Each connection's last successful Graph call and token refresh, and their last failures. */
  readonly activity: ConnectionActivity;
  /** Writes the activity records still waiting for their slot (the store closes after this), then releases the agent. */
  close(): Promise<void>;
}

export interface M365AccessDeps {
  readonly store: DocumentStore;
  readonly secrets: SecretStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Counts Graph requests and failed token refreshes. */
  readonly metrics?: GraphRequestObserver & Metrics;
}

async function msalCredential(config: Config): Promise<MsalClientCredential> {
  const credential = config.m365Credential;
  if (credential.kind === 'secret') return { clientSecret: credential.secret };
  const { ManagedIdentityCredential } = await import('@azure/identity');
  return { clientAssertion: managedIdentityAssertion(new ManagedIdentityCredential({ clientId: credential.managedIdentityClientId })) };
}

/**
 * Wires msal-node and the Graph client from configuration. Only M365_MODE=sandbox trusts the
 * sandbox's loopback certificate (an https agent and an msal network client); `live` uses Node's
 * trust store and msal-node's own network client, on AUTHORITY_URL and GRAPH_BASE_URL as given.
 */
export async function createM365Access(config: Config, deps: M365AccessDeps): Promise<M365Access> {
  let httpsAgent: https.Agent;
  let networkClient: INetworkModule | undefined;
  let ownAgent: https.Agent | undefined;
  if (config.m365Mode === 'sandbox') {
    const trust = await import('../sandbox/sandbox-trust');
    httpsAgent = trust.sandboxHttpsAgent();
    networkClient = trust.createSandboxNetworkClient();
  } else {
    ownAgent = new https.Agent({ keepAlive: true });
    httpsAgent = ownAgent;
  }
  const activity = createConnectionActivity({ store: deps.store, clock: deps.clock, logger: deps.logger });
  const identity = new MsalIdentityPlatform({
    clientId: config.m365ClientId,
    credential: await msalCredential(config),
    authorityUrl: config.authorityUrl,
    redirectUri: `${config.publicBaseUrl}/api/oauth/callback`,
    secrets: deps.secrets,
    logger: deps.logger,
    clock: deps.clock,
    onRefresh: (connectionId, outcome) => activity.record(connectionId, 'tokenRefresh', outcome),
    ...(networkClient === undefined ? {} : { networkClient }),
  });
  const tokens = createConnectionTokenProvider({ store: deps.store, clock: deps.clock, logger: deps.logger, identity, ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }) });
  const graph = createGraphClientFactory({ graphBaseUrl: config.graphBaseUrl, tokens, httpsAgent, activity: activity.record, ...(deps.metrics === undefined ? {} : { observer: deps.metrics }) });
  return {
    identity,
    tokens,
    graph,
    tenants: createGraphTenantReader(graph),
    activity,
    async close() {
      await activity.flush();
      ownAgent?.destroy();
    },
  };
}
