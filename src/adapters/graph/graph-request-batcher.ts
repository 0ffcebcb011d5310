import { maxBatchRequests, type GraphBatchRequest, type GraphClient } from './graph-client';

/** One Graph request as the batcher takes it; `url` is relative to the version (`/users/{id}`). */
export interface GraphRequest {
  readonly method: GraphBatchRequest['method'];
  readonly url: string;
  readonly body?: unknown;
}

interface Waiting {
  readonly request: GraphRequest;
  resolve(body: unknown): void;
  reject(error: unknown): void;
}

/**
 * Sends the requests that callers make in the same turn of the event loop as one `$batch` (up to
 * 20), so concurrent workers of one connection share round trips. Each request keeps its own
 * answer: Graph evaluates batched requests one by one, throttling included, and a 429 or 404 of one
 * reaches only its caller, classified. A request alone in its turn goes out on its own.
 */
export class GraphRequestBatcher {
  private waiting: Waiting[] = [];
  private flushScheduled = false;

  constructor(private readonly client: GraphClient) {}

  /** The response body (undefined for 204), or a thrown GraphRequestError. */
  send<T>(request: GraphRequest): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ request, resolve: resolve as (body: unknown) => void, reject });
      if (this.waiting.length >= maxBatchRequests) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, maxBatchRequests);
      if (batch.length === 1) void this.one(batch[0] as Waiting);
      else void this.many(batch);
    }
  }

  private async one(waiting: Waiting): Promise<void> {
    const { method, url, body } = waiting.request;
    try {
      switch (method) {
        case 'GET':
          waiting.resolve(await this.client.get(url));
          break;
        case 'POST':
          waiting.resolve(await this.client.post(url, body));
          break;
        case 'PATCH':
          waiting.resolve(await this.client.patch(url, body));
          break;
        case 'PUT':
          waiting.resolve(await this.client.put(url, body));
          break;
        case 'DELETE':
          await this.client.delete(url);
          waiting.resolve(undefined);
          break;
      }
    } catch (error) {
      waiting.reject(error);
    }
  }

  private async many(batch: readonly Waiting[]): Promise<void> {
    try {
      const answers = await this.client.batch(batch.map((w, i) => ({ id: String(i + 1), method: w.request.method, url: w.request.url, ...(w.request.body === undefined ? {} : { body: w.request.body }) })));
      answers.forEach((answer, i) => {
        const waiting = batch[i] as Waiting;
        if (answer.error !== undefined) waiting.reject(answer.error);
        else waiting.resolve(answer.body);
      });
    } catch (error) {
      // The batch itself failed (a lost connection, a throttled or failed envelope): so did each request.
      for (const waiting of batch) waiting.reject(error);
    }
  }
}
