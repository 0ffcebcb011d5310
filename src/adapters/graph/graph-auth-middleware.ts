import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { discardBody, setRequestHeader } from './graph-middleware-context';

/** Gets an access token; throws a carried GraphRequestError when there is none. */
export type AccessTokenSource = (options: { readonly forceRefresh: boolean }) => Promise<string>;

/**
 * Puts the connection's access token on each request. A 401 is answered once with a forced
 * refresh: the cached token may have been revoked, and the refresh either yields a working token
 * or tells the token provider the grant is gone (the connection then needs re-consent). So is a
 * 403 on a read: a token carries the scopes its grant had when it was issued, so one cached from
 * before a new consent lacks what the consent added; only a fresh token's 403 is the grant's.
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
    const status = context.response?.status;
    const method = (context.options?.method ?? 'GET').toUpperCase();
    if (status !== 401 && !(status === 403 && method === 'GET')) return;
    await discardBody(context.response as Response);
    setRequestHeader(context, 'Authorization', `Bearer ${await this.token({ forceRefresh: true })}`);
    context.response = undefined;
    await next.execute(context);
  }
}
