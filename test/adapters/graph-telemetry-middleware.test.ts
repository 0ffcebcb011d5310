import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { GraphTelemetryMiddleware } from '../../src/adapters/telemetry/graph-telemetry-middleware';

/** The transport: answers every request with `answer`. */
function transport(answer: () => Response): Middleware {
  return {
    async execute(context: Context) {
      context.response = answer();
    },
  } as Middleware;
}

async function send(request: string, options: RequestInit, answer: () => Response): Promise<{ seen: [string | undefined, string, number | undefined, boolean?][]; context: Context }> {
  const seen: [string | undefined, string, number | undefined, boolean?][] = [];
  const middleware = new GraphTelemetryMiddleware('conn-1', { graphRequest: (...call) => void seen.push(call) });
  middleware.setNext(transport(answer));
  const context = { request, options } as Context;
  await middleware.execute(context);
  return { seen, context };
}

describe('Graph telemetry middleware', () => {
  it('counts each request inside a $batch with the status Graph gave it (a 429 inside a 200 envelope included), and leaves the body for the client', async () => {
    const body = JSON.stringify({ requests: [{ id: '1', method: 'PATCH', url: '/users/a' }, { id: '2', method: 'patch', url: '/users/b' }, { id: '3', method: 'GET', url: '/users/c' }] });
    const answer = { responses: [{ id: '2', status: 429, headers: { 'Retry-After': '3' } }, { id: '1', status: 204 }, { id: '3', status: 200, body: { id: 'c' } }] };
    const { seen, context } = await send('https://graph.microsoft.com/v1.0/$batch', { method: 'POST', body }, () => new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json' } }));
    expect(seen).toEqual([
      ['conn-1', 'POST', 200, undefined],
      ['conn-1', 'PATCH', 429, true],
      ['conn-1', 'PATCH', 204, true],
      ['conn-1', 'GET', 200, true],
    ]);
    expect(await (context.response as Response).json()).toEqual(answer);
  });

  it('counts a request outside a batch once, and a $batch refused as a whole once', async () => {
    expect((await send('https://graph.microsoft.com/v1.0/users/a', { method: 'PATCH', body: '{}' }, () => new Response(null, { status: 204 }))).seen).toEqual([['conn-1', 'PATCH', 204, undefined]]);
    expect((await send('https://graph.microsoft.com/v1.0/$batch', { method: 'POST', body: '{"requests":[]}' }, () => new Response('{"error":{}}', { status: 429 }))).seen).toEqual([['conn-1', 'POST', 429, undefined]]);
  });
});
