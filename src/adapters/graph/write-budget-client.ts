import type { WriteBudget } from '../../domain/throttling/write-budget';
import type { GraphBatchRequest, GraphClient } from './graph-client';
import type { GraphClientFactory } from './graph-client-factory';
import { GraphRequestError } from './graph-error-translator';

/** How long a write that found no budget waits before its work is tried again (the queue reschedules it). */
const noBudgetRetryMs = 1_000;

function isWrite(method: GraphBatchRequest['method']): boolean {
  return method !== 'GET';
}

/**
 * Graph clients whose writes (POST, PATCH, PUT, DELETE, and each write inside a `$batch`) first take
 * a token of the app-wide write budget for their connection. A write that waits too long fails as a
 * throttled answer would, so the worker reschedules its nudge instead of holding a queue lock.
 */
export function budgetedGraphClients(clients: GraphClientFactory, budget: WriteBudget): GraphClientFactory {
  return {
    forConnection(connectionId) {
      const client = clients.forConnection(connectionId);
      const gate = async (writes: number): Promise<void> => {
        if (writes === 0) return;
        if (!(await budget.acquire(connectionId, writes))) {
          throw new GraphRequestError('transient', 'the app-wide Graph write budget has no room for this connection now', { status: 429, graphCode: 'WriteBudgetExhausted', retryAfterMs: noBudgetRetryMs });
        }
      };
      const budgeted: GraphClient = {
        sdk: client.sdk,
        get: (path, options) => client.get(path, options),
        pages: (path, options) => client.pages(path, options),
        all: (path, options) => client.all(path, options),
        post: async (path, body, options) => {
          await gate(1);
          return client.post(path, body, options);
        },
        patch: async (path, body, options) => {
          await gate(1);
          return client.patch(path, body, options);
        },
        put: async (path, body, options) => {
          await gate(1);
          return client.put(path, body, options);
        },
        delete: async (path, options) => {
          await gate(1);
          return client.delete(path, options);
        },
        batch: async (requests) => {
          await gate(requests.filter((r) => isWrite(r.method)).length);
          return client.batch(requests);
        },
      };
      return budgeted;
    },
    withAccessToken: (accessToken) => clients.withAccessToken(accessToken),
  };
}
