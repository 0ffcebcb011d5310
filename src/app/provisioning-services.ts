import https from 'node:https';
import path from 'node:path';
import { createGraphClientFactory, type GraphClientFactory } from '../adapters/graph/graph-client-factory';
import { createGraphUserGateways } from '../adapters/graph/graph-user-gateway';
import { budgetedGraphClients } from '../adapters/graph/write-budget-client';
import { AppWriteBudget, StoreTokenBuckets } from '../domain/throttling/write-budget';
import { OutboxNoticeSender } from '../adapters/notice/outbox-notice-sender';
import { StoreNoticeOutbox } from '../adapters/notice/store-notice-outbox';
import { sandboxHttpsAgent } from '../adapters/sandbox/sandbox-trust';
import type { TokenProvider } from '../domain/connections/token-provider';
import type { Clock } from '../domain/ports/clock';
import type { NoticeSender } from '../domain/provisioning/binding-notice';
import { QueuedNoticeSender } from '../domain/provisioning/notice-relay';
import { ok } from '../domain/result';
import { ConnectionThrottle } from '../domain/provisioning/connection-throttle';
import { createProvisioningHooks } from '../domain/provisioning/provisioning-hooks';
import { createStoreDeactivationGuard } from '../domain/reconcile/store-deactivation-guard';
import type { ProvisioningWorkerDeps } from '../domain/provisioning/provisioning-worker';
import type { Services } from './services';

const wired = new WeakMap<Services, ProvisioningWorkerDeps>();
const budgets = new WeakMap<Services, AppWriteBudget>();

/** The process's share of the app-wide Graph write budget (one per process, shared by every worker). */
export function writeBudgetFor(services: Services): AppWriteBudget {
  let budget = budgets.get(services);
  if (budget === undefined) {
    const { config } = services;
    budget = new AppWriteBudget(new StoreTokenBuckets(services.store, services.clock), services.clock, {
      appWritesPer5Minutes: config.graphAppWritesPer5Minutes,
      tenantWritesPer150Seconds: config.graphTenantWritesPer150Seconds,
    });
    budgets.set(services, budget);
  }
  return budget;
}

function noticeSender(services: Services): NoticeSender {
  // With a mail relay configured, notices queue for the relay function (functions/queue/notice-relay.ts).
  if (services.config.noticeSmtp !== undefined) return new QueuedNoticeSender(services.sender);
  // In Azure there is no lasting local disk: without a relay, notices wait in the store.
  if (services.config.cosmosEndpoint !== undefined) return new StoreNoticeOutbox(services.store, services.clock);
  return new OutboxNoticeSender(path.join(services.config.dataDir, 'outbox'), services.config.noticeFrom, services.clock);
}

/** How long the worker reuses a connection's access token before asking the token provider again. */
const tokenReuseMs = 30_000;

/**
 * Reuses each connection's access token for a short while: msal-node's silent lookup costs more
 * CPU than the Graph call it authorizes. A forced refresh (Graph answered 401) bypasses and
 * replaces it; failures are never kept.
 */
function reusedTokens(tokens: TokenProvider, clock: Clock): TokenProvider {
  const cached = new Map<string, { token: string; untilMs: number }>();
  return {
    async getAccessToken(connectionId, options = {}) {
      const nowMs = clock.now().getTime();
      const hit = cached.get(connectionId);
      if (options.forceRefresh !== true && hit !== undefined && hit.untilMs > nowMs) return ok(hit.token);
      const fresh = await tokens.getAccessToken(connectionId, options);
      if (fresh.ok) cached.set(connectionId, { token: fresh.value, untilMs: nowMs + tokenReuseMs });
      else cached.delete(connectionId);
      return fresh;
    },
  };
}

/**
 * Graph clients for the worker, on the connection's tokens, without the client's own retries: the
 * worker waits by rescheduling its nudge, never inside a handler, and every 429 must reach the
 * connection's shared throttle. Every write first takes a token of the app-wide write budget.
 */
export function workerGraphClients(services: Services): GraphClientFactory {
  const { config } = services;
  const clients = createGraphClientFactory({
    graphBaseUrl: config.graphBaseUrl,
    tokens: reusedTokens(services.m365.tokens, services.clock),
    httpsAgent: config.m365Mode === 'sandbox' ? sandboxHttpsAgent() : new https.Agent({ keepAlive: true }),
    retry: { maxRetries: 0, maxRetryAfterMs: 0, defaultDelayMs: 0 },
    observer: services.metrics,
  });
  return budgetedGraphClients(clients, writeBudgetFor(services));
}

/**
 * Provisioning's wiring for a process's services: the Graph user gateways, the per-connection
 * throttle every worker of the process shares, the notice sender, and the directory hooks, which
 * are registered on first call. `createServices` calls it, so directory changes are heard from
 * the first request on, whichever function runs first.
 */
export function provisioningFor(services: Services): ProvisioningWorkerDeps {
  const existing = wired.get(services);
  if (existing !== undefined) return existing;
  const deps: ProvisioningWorkerDeps = {
    store: services.store,
    clock: services.clock,
    logger: services.logger.child({ component: 'provisioning' }),
    sender: services.sender,
    secrets: services.secrets,
    notices: noticeSender(services),
    gateways: createGraphUserGateways(workerGraphClients(services), services.config.graphBaseUrl),
    throttle: new ConnectionThrottle(),
    maxAttempts: services.config.queueMaxDeliveries,
    deactivationGuard: createStoreDeactivationGuard({ store: services.store, clock: services.clock, logger: services.logger.child({ component: 'deactivation-guard' }) }),
    metrics: services.metrics,
  };
  wired.set(services, deps);
  services.directoryHooks.register(createProvisioningHooks(deps));
  return deps;
}
