import type http from 'node:http';
import type https from 'node:https';
import { Client } from '@microsoft/microsoft-graph-client';
import type { TokenProvider } from '../../domain/connections/token-provider';
import type { ActivityRecorder } from '../../domain/connections/connection-activity';
import { GraphActivityMiddleware } from './graph-activity-middleware';
import { GraphAuthMiddleware, type AccessTokenSource } from './graph-auth-middleware';
import { SdkGraphClient, type GraphClient } from './graph-client';
import { carry, GraphRequestError } from './graph-error-translator';
import { defaultGraphRetryOptions, GraphRetryMiddleware, type GraphRetryOptions } from './graph-retry-middleware';
import { GraphTelemetryMiddleware, type GraphRequestObserver } from '../telemetry/graph-telemetry-middleware';
import { NodeHttpsTransport } from './node-https-transport';

export interface GraphClientFactoryDeps {
  /** GRAPH_BASE_URL, without the version. */
  readonly graphBaseUrl: string;
  readonly tokens: TokenProvider;
  /** A keep-alive agent; in sandbox mode the one that trusts the sandbox's loopback certificate. */
  readonly httpsAgent: https.Agent;
  readonly httpAgent?: http.Agent;
  readonly retry?: GraphRetryOptions;
  readonly timeoutMs?: number;
  /** Counts requests and throttled answers per connection. */
  readonly observer?: GraphRequestObserver;
  /** Told the outcome of each call made for a connection (health: last successful call, last failure). */
  readonly activity?: ActivityRecorder;
}

/** Builds Graph clients on the middleware chain (activity ->) auth -> retry -> telemetry -> transport. */
export interface GraphClientFactory {
  /** A client using the connection's delegated tokens (from the TokenProvider). */
  forConnection(connectionId: string): GraphClient;
  /** A client using one given access token (consent checks, before the connection is active). */
  withAccessToken(accessToken: string): GraphClient;
}

const defaultTimeoutMs = 30_000;

export function createGraphClientFactory(deps: GraphClientFactoryDeps): GraphClientFactory {
  const transport = new NodeHttpsTransport({ httpsAgent: deps.httpsAgent, ...(deps.httpAgent === undefined ? {} : { httpAgent: deps.httpAgent }), timeoutMs: deps.timeoutMs ?? defaultTimeoutMs });
  const build = (token: AccessTokenSource, connectionId?: string, activity?: GraphActivityMiddleware): GraphClient => {
    const auth = new GraphAuthMiddleware(token);
    const retry = new GraphRetryMiddleware(deps.retry ?? defaultGraphRetryOptions);
    const telemetry = new GraphTelemetryMiddleware(connectionId, deps.observer);
    activity?.setNext(auth);
    auth.setNext(retry);
    retry.setNext(telemetry);
    telemetry.setNext(transport);
    return new SdkGraphClient(Client.initWithMiddleware({ middleware: activity ?? auth, baseUrl: deps.graphBaseUrl, defaultVersion: 'v1.0' }), deps.graphBaseUrl);
  };
  return {
    forConnection(connectionId) {
      const record = deps.activity;
      return build(
        async ({ forceRefresh }) => {
          const token = await deps.tokens.getAccessToken(connectionId, { forceRefresh });
          if (token.ok) return token.value;
          throw carry(new GraphRequestError(token.error.code, token.error.message));
        },
        connectionId,
        record === undefined ? undefined : new GraphActivityMiddleware((outcome) => record(connectionId, 'graph', outcome)),
      );
    },
    withAccessToken(accessToken) {
      return build(async () => accessToken);
    },
  };
}
