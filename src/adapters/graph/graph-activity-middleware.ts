import { GraphClientError, type Context, type Middleware } from '@microsoft/microsoft-graph-client';
import type { ActivityOutcome } from '../../domain/connections/connection-activity';
import { GraphRequestError } from './graph-error-translator';

/** Answers that say the connection itself is not being served: its token refused (after a fresh one), throttled past the retries, or Graph failing. */
function isConnectionFailure(status: number): boolean {
  return status === 401 || status === 403 || status === 429 || status >= 500;
}

/**
 * Reports each Graph call of a connection, once, with its final outcome: it sits first in the
 * chain, so it sees the answer after the auth middleware's fresh-token retry and the retry
 * middleware's attempts. Any other answer (404 for a missing user, 400 for a bad value) is Graph
 * answering about the request, which proves the connection works.
 */
export class GraphActivityMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly report: (outcome: ActivityOutcome) => void) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (next === undefined) throw new TypeError('GraphActivityMiddleware needs a next middleware');
    try {
      await next.execute(context);
    } catch (error) {
      const failure = error instanceof GraphClientError && error.customError instanceof GraphRequestError ? error.customError : undefined;
      // No token: the token refresh reports that, and a connection without authorization has no calls to report.
      if (failure?.code !== 'reauthorization_required' && failure?.code !== 'not_connected') {
        this.report({ ok: false, code: failure?.code ?? 'no_answer', message: error instanceof Error ? error.message : String(error) });
      }
      throw error;
    }
    const status = context.response?.status;
    if (status === undefined) return;
    this.report(isConnectionFailure(status) ? { ok: false, code: `http_${status}`, message: `Graph answered ${status} ${context.response?.statusText ?? ''}`.trimEnd() } : { ok: true });
  }
}
