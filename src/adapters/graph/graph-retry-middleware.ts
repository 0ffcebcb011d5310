import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { GraphClientError } from '@microsoft/microsoft-graph-client';
import { GraphRequestError, parseRetryAfterMs } from './graph-error-translator';
import { discardBody, methodOf } from './graph-middleware-context';

export interface GraphRetryOptions {
  /** Retries per request. The queue does the long waits: workers reschedule instead of sleeping. */
  readonly maxRetries: number;
  /** A `Retry-After` longer than this is not waited for: the error surfaces with its `retryAfterMs`. */
  readonly maxRetryAfterMs: number;
  /** Wait before retrying an answer without `Retry-After`, or a lost connection. */
  readonly defaultDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export const defaultGraphRetryOptions: GraphRetryOptions = { maxRetries: 1, maxRetryAfterMs: 2_000, defaultDelayMs: 500 };

const idempotentMethods = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isRetryable(status: number, method: string): boolean {
  // 429 and 503 mean the request was not processed; a 504 may have been, so only idempotent ones.
  if (status === 429 || status === 503) return true;
  return status === 504 && idempotentMethods.has(method);
}

function isLostConnection(error: unknown): boolean {
  return error instanceof GraphClientError && error.customError instanceof GraphRequestError && error.customError.code === 'transient' && error.customError.status === undefined;
}

/** Retries throttled and unavailable answers within a small budget, honouring `Retry-After`. */
export class GraphRetryMiddleware implements Middleware {
  private next: Middleware | undefined;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: GraphRetryOptions = defaultGraphRetryOptions) {
    this.sleep = options.sleep ?? sleep;
  }

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (next === undefined) throw new TypeError('GraphRetryMiddleware needs a next middleware');
    const method = methodOf(context);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await next.execute(context);
      } catch (error) {
        // A connection lost before any answer: an idempotent request can simply be sent again.
        if (attempt < this.options.maxRetries && idempotentMethods.has(method) && isLostConnection(error)) {
          await this.sleep(this.options.defaultDelayMs);
          continue;
        }
        throw error;
      }
      const response = context.response;
      if (response === undefined || attempt >= this.options.maxRetries || !isRetryable(response.status, method)) return;
      const delayMs = parseRetryAfterMs(response.headers.get('retry-after')) ?? this.options.defaultDelayMs;
      if (delayMs > this.options.maxRetryAfterMs) return;
      await discardBody(response);
      context.response = undefined;
      await this.sleep(delayMs);
    }
  }
}
