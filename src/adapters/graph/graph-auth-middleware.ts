import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { discardBody, setRequestHeader } from './graph-middleware-context';

/** Gets an access token; throws a carried GraphRequestError when there is none. */
export type AccessTokenSource = (options: { readonly forceRefresh: boolean }) => Promise<string>;

/**
 * Puts the connection's access token on each request. A 401 is answered once with a forced
 * refresh: the cached token may have been revoked, and the refresh either yields a working token
 * or tells the token provider the grant is gone (the connection then needs re-consent).
 */
export class GraphAuthMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly token: AccessTokenSource) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const next = this.next;
    if (next === undefined) throw new TypeError('GraphAuthMiddleware needs a next middleware');
    setRequestHeader(context, 'Authorization', `Bearer ${await this.token({ forceRefresh: false })}`);
    await next.execute(context);
    if (context.response?.status !== 401) return;
    await discardBody(context.response);
    setRequestHeader(context, 'Authorization', `Bearer ${await this.token({ forceRefresh: true })}`);
    context.response = undefined;
    await next.execute(context);
  }
}
