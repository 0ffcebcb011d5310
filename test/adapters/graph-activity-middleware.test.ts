import type { Context, Middleware } from '@microsoft/microsoft-graph-client';
import { GraphActivityMiddleware } from '../../src/adapters/graph/graph-activity-middleware';
import { carry, GraphRequestError } from '../../src/adapters/graph/graph-error-translator';
import type { ActivityOutcome } from '../../src/domain/connections/connection-activity';

/** The rest of the chain, reduced to what it answers or throws. */
function answering(outcome: number | Error): Middleware {
  return {
    async execute(context: Context) {
      if (outcome instanceof Error) throw outcome;
      context.response = new Response(null, { status: outcome });
    },
  };
}

async function reported(outcome: number | Error): Promise<ActivityOutcome[]> {
  const outcomes: ActivityOutcome[] = [];
  const middleware = new GraphActivityMiddleware((o) => outcomes.push(o));
  middleware.setNext(answering(outcome));
  await middleware.execute({ request: 'https://graph.example/v1.0/users', options: { method: 'GET' } } as Context).catch(() => undefined);
  return outcomes;
}

describe('Graph activity middleware', () => {
  it.each([200, 204, 400, 404, 409])('counts an answer %i as a working connection: Graph answered about the request', async (status) => {
    expect(await reported(status)).toEqual([{ ok: true }]);
  });

  it.each([401, 403, 429, 500, 503])('counts a final %i as a failing call', async (status) => {
    expect(await reported(status)).toEqual([{ ok: false, code: `http_${status}`, message: expect.stringContaining(String(status)) }]);
  });

  it('counts no answer at all as a failing call, and rethrows it', async () => {
    const lost = carry(new GraphRequestError('transient', 'Graph connection failed: socket hang up'));
    expect(await reported(lost)).toEqual([{ ok: false, code: 'transient', message: 'Graph connection failed: socket hang up' }]);
    const middleware = new GraphActivityMiddleware(() => undefined);
    middleware.setNext(answering(lost));
    await expect(middleware.execute({ request: 'x', options: {} } as Context)).rejects.toBe(lost);
  });

  it.each(['reauthorization_required', 'not_connected'] as const)('leaves a call that had no token (%s) to the token refresh record', async (code) => {
    expect(await reported(carry(new GraphRequestError(code, 'no token')))).toEqual([]);
  });
});
