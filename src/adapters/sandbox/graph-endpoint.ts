import { randomUUID } from 'node:crypto';
import type { Clock } from '../../domain/ports/clock';
import type { GraphCall, SandboxGraph } from './graph-api';
import type { SandboxSubscriptions } from './graph-subscriptions';
import { badRequest, graphDate, graphError, type GraphResult } from './graph-errors';
import { formatRetryAfter, isWrite, resourceUnitCost, type GraphThrottler, type ThrottleDecision } from './graph-throttling';
import type { AccessContext, SandboxAuthority } from './sandbox-authority';
import { parseJsonBody, type SandboxReply, type SandboxRequest } from './sandbox-http';

/** Injected misbehaviour, all off by default (POST /_sandbox/faults). */
export interface SandboxFaults {
  rates: { '503': number; '429': number; reset: number };
  latencyMs: number;
  replicationLagMs: number;
}

export const noFaults = (): SandboxFaults => ({ rates: { '503': 0, '429': 0, reset: 0 }, latencyMs: 0, replicationLagMs: 0 });

/** One Graph request the sandbox served, for tests that count calls and writes. */
export interface ServedRequest {
  readonly seq: number;
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly write: boolean;
  readonly resourceUnits: number;
  readonly tenantId: string | null;
  readonly appId: string | null;
  /** True for an item inside a `$batch`. */
  readonly batched: boolean;
}

const maxLoggedRequests = 200_000;
const maxBatchSize = 20;
const odataJson = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

/** Ring buffer of served Graph requests. */
export class RequestLog {
  private entries: ServedRequest[] = [];
  private seq = 0;

  add(entry: Omit<ServedRequest, 'seq'>): void {
    this.seq += 1;
    this.entries.push({ seq: this.seq, ...entry });
    if (this.entries.length > maxLoggedRequests) this.entries = this.entries.slice(-maxLoggedRequests / 2);
  }

  /** Entries after sequence number `since` (exclusive), or at/after an instant. */
  since(since?: number | Date): ServedRequest[] {
    if (since === undefined) return [...this.entries];
    if (since instanceof Date) {
      const iso = since.toISOString();
      return this.entries.filter((e) => e.time >= iso);
    }
    return this.entries.filter((e) => e.seq > since);
  }

  get lastSeq(): number {
    return this.seq;
  }

  clear(): void {
    this.entries = [];
  }
}

type Outcome = { kind: 'reply'; reply: SandboxReply } | { kind: 'reset' };

/** Graph over HTTP: faults, authentication, throttling, `$batch`, headers and the request log. */
export class GraphEndpoint {
  constructor(
    private readonly graph: SandboxGraph,
    private readonly subscriptions: SandboxSubscriptions,
    private readonly authority: SandboxAuthority,
    private readonly throttler: GraphThrottler,
    private readonly faults: () => SandboxFaults,
    private readonly log: RequestLog,
    private readonly clock: Clock,
    private readonly timeScale: number,
    private readonly random: () => number = Math.random,
  ) {}

  async handle(req: SandboxRequest, graphPath: string): Promise<Outcome> {
    const faults = this.faults();
    if (faults.rates.reset > 0 && this.random() < faults.rates.reset) return { kind: 'reset' };
    if (faults.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.latencyMs));
    const nowMs = this.clock.now().getTime();
    const clientRequestId = req.headers['client-request-id'] ?? randomUUID();
    const pathWithQuery = `/v1.0${graphPath}${req.query.size > 0 ? `?${req.query.toString()}` : ''}`;
    const finish = (result: GraphResult, resourceUnits: number, ctx: AccessContext | undefined, write: boolean): Outcome => {
      this.log.add({ time: new Date(nowMs).toISOString(), method: req.method, path: pathWithQuery, status: result.status, write, resourceUnits, tenantId: ctx?.tenant.id ?? null, appId: ctx?.appId ?? null, batched: false });
      return { kind: 'reply', reply: this.toReply(result, resourceUnits, clientRequestId) };
    };

    const injected = this.injectedFault(nowMs);
    if (injected) return finish(injected, 1, undefined, false);

    const auth = this.authority.authenticate(req.headers.authorization);
    if (!auth.ok) return finish(auth.reason === 'revoked' ? continuousAccessChallenge(auth.notBeforeMs, nowMs) : unauthenticated(auth.reason, nowMs), 1, undefined, false);
    const ctx = auth.context;
    const parsed = parseJsonBody(req.bodyText);
    if (!parsed.ok) return finish(badRequest('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', nowMs), 1, ctx, false);

    if (graphPath === '/$batch') {
      if (req.method !== 'POST') return finish(graphError(405, 'BadRequest', 'Specified HTTP method is not allowed for the request target.', nowMs), 1, ctx, false);
      const { result, resourceUnits } = this.batch(parsed.value, ctx, nowMs);
      return finish(result, resourceUnits, ctx, false);
    }
    if (graphPath === '/subscriptions' || graphPath.startsWith('/subscriptions/')) {
      // Subscriptions are served by the change notifications service, outside the directory's budgets.
      const id = graphPath.split('/')[2];
      return finish(await this.subscriptions.handle(req.method, id === undefined || id === '' ? undefined : decodeURIComponent(id), parsed.value, ctx), 1, ctx, false);
    }
    const { result, resourceUnits, write } = this.one({ method: req.method, path: graphPath, query: req.query, headers: req.headers, body: parsed.value }, ctx, nowMs);
    return finish(result, resourceUnits, ctx, write);
  }

  /** One request under the throttling budget of its application+tenant pair. */
  private one(call: GraphCall, ctx: AccessContext, nowMs: number): { result: GraphResult; resourceUnits: number; write: boolean } {
    const resourceUnits = resourceUnitCost(call.method, call.path, call.query);
    const write = isWrite(call.method);
    const decision = this.throttler.check(ctx.appId, ctx.tenant.id, ctx.tenant.liveUserCount, resourceUnits, write, nowMs);
    if (!decision.allowed) {
      return {
        result: tooManyRequests(nowMs, {
          'retry-after': formatRetryAfter(decision.retryAfterSec ?? 1, this.timeScale),
          'x-ms-throttle-scope': throttleScope(decision, ctx),
          'x-ms-throttle-information': decision.information ?? 'ResourceUnitLimitExceeded',
        }),
        resourceUnits,
        write: false,
      };
    }
    const result = this.graph.handle(call, ctx);
    if (decision.usedFraction >= 0.8) result.headers = { ...result.headers, 'x-ms-throttle-limit-percentage': Math.min(1.8, decision.usedFraction).toFixed(1) };
    return { result, resourceUnits, write: write && result.status < 400 };
  }

  private injectedFault(nowMs: number): GraphResult | undefined {
    const { rates } = this.faults();
    if (rates['503'] > 0 && this.random() < rates['503']) {
      return graphError(503, 'serviceNotAvailable', 'The service is temporarily unavailable for maintenance or is overloaded. You may repeat the request after a delay.', nowMs, { headers: { 'retry-after': formatRetryAfter(1, this.timeScale) } });
    }
    if (rates['429'] > 0 && this.random() < rates['429']) {
      return tooManyRequests(nowMs, { 'retry-after': formatRetryAfter(1, this.timeScale), 'x-ms-throttle-information': 'CPULimitExceeded' });
    }
    return undefined;
  }

  /**
   * JSON batching (concepts/json-batching.md): at most 20 requests; each is evaluated on its own
   * (throttling included); a request whose dependency failed answers 424.
   */
  private batch(body: unknown, ctx: AccessContext, nowMs: number): { result: GraphResult; resourceUnits: number } {
    const requests = typeof body === 'object' && body !== null && Array.isArray((body as { requests?: unknown }).requests) ? ((body as { requests: unknown[] }).requests as unknown[]) : undefined;
    if (!requests) return { result: graphError(400, 'BadRequest', 'Invalid batch payload format.', nowMs), resourceUnits: 1 };
    if (requests.length > maxBatchSize) return { result: graphError(400, 'BadRequest', `Number of requests inside batch exceeds the limit of ${maxBatchSize}.`, nowMs), resourceUnits: 1 };
    const items: { id: string; method: string; url: string; headers: Record<string, string>; body: unknown; dependsOn: string[] }[] = [];
    const ids = new Set<string>();
    for (const raw of requests) {
      if (typeof raw !== 'object' || raw === null) return { result: graphError(400, 'BadRequest', 'Invalid batch payload format.', nowMs), resourceUnits: 1 };
      const r = raw as Record<string, unknown>;
      if (typeof r.id !== 'string' || typeof r.method !== 'string' || typeof r.url !== 'string') {
        return { result: graphError(400, 'BadRequest', 'Invalid batch payload format: each request needs id, method and url.', nowMs), resourceUnits: 1 };
      }
      const id = r.id.toLowerCase();
      if (ids.has(id)) return { result: graphError(400, 'BadRequest', `Batch request contains duplicate request id '${r.id}'.`, nowMs), resourceUnits: 1 };
      const dependsOn = Array.isArray(r.dependsOn) ? r.dependsOn.map((d) => String(d).toLowerCase()) : [];
      const unknownDependency = dependsOn.find((d) => !ids.has(d));
      if (unknownDependency !== undefined) return { result: graphError(400, 'BadRequest', `Request '${r.id}' depends on '${unknownDependency}', which does not precede it in the batch.`, nowMs), resourceUnits: 1 };
      ids.add(id);
      const headers: Record<string, string> = {};
      if (typeof r.headers === 'object' && r.headers !== null) for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = String(v);
      items.push({ id: r.id, method: r.method.toUpperCase(), url: r.url, headers, body: r.body, dependsOn });
    }
    const statusOf = new Map<string, number>();
    const responses: Record<string, unknown>[] = [];
    let total = 0;
    for (const item of items) {
      let result: GraphResult;
      let resourceUnits = 0;
      let write = false;
      const relative = item.url.startsWith('/') ? item.url : `/${item.url}`;
      const url = new URL(relative.replace(/^\/v1\.0\//, '/'), 'https://batch.invalid');
      if (item.dependsOn.some((d) => (statusOf.get(d) ?? 424) >= 400)) {
        result = graphError(424, 'FailedDependency', 'The request failed because a request it depends on failed.', nowMs);
      } else {
        const injected = this.injectedFault(nowMs);
        if (injected) result = injected;
        else ({ result, resourceUnits, write } = this.one({ method: item.method, path: url.pathname, query: url.searchParams, headers: item.headers, body: item.body }, ctx, nowMs));
      }
      total += resourceUnits;
      statusOf.set(item.id.toLowerCase(), result.status);
      this.log.add({ time: new Date(nowMs).toISOString(), method: item.method, path: `/v1.0${url.pathname}${url.search}`, status: result.status, write, resourceUnits, tenantId: ctx.tenant.id, appId: ctx.appId, batched: true });
      const headers: Record<string, string> = { 'Cache-Control': 'no-cache', 'x-ms-resource-unit': String(Math.max(1, resourceUnits)), 'OData-Version': '4.0' };
      for (const [k, v] of Object.entries(result.headers ?? {})) headers[headerCase(k)] = v;
      if (result.body !== undefined) headers['Content-Type'] = odataJson;
      const response: Record<string, unknown> = { id: item.id, status: result.status, headers };
      if (result.body !== undefined) response.body = result.body;
      responses.push(response);
    }
    return { result: { status: 200, body: { responses } }, resourceUnits: Math.max(1, total) };
  }

  private toReply(result: GraphResult, resourceUnits: number, clientRequestId: string): SandboxReply {
    const headers: Record<string, string> = {
      'cache-control': 'no-cache',
      'odata-version': '4.0',
      'request-id': randomUUID(),
      'client-request-id': clientRequestId,
      'x-ms-resource-unit': String(Math.max(1, resourceUnits)),
      ...result.headers,
    };
    if (result.body === undefined) return { status: result.status, headers, body: '' };
    headers['content-type'] = odataJson;
    return { status: result.status, headers, body: JSON.stringify(result.body) };
  }
}

/** `x-ms-throttle-scope`: `<scope>/<limit>/<ids of the scope>`, e.g. `Tenant_Application/Write/<appId>/<tenantId>`. */
function throttleScope(decision: ThrottleDecision, ctx: AccessContext): string {
  const limit = decision.limit ?? 'ReadWrite';
  switch (decision.scope) {
    case 'Application':
      return `Application/${limit}/${ctx.appId}`;
    case 'Tenant':
      return `Tenant/${limit}/${ctx.tenant.id}`;
    default:
      return `Tenant_Application/${limit}/${ctx.appId}/${ctx.tenant.id}`;
  }
}

function headerCase(name: string): string {
  if (name.startsWith('x-ms-')) return name;
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => `${dash}${c.toUpperCase()}`);
}

/** The documented 429 body (concepts/throttling.md, "Sample response"). */
function tooManyRequests(nowMs: number, headers: Record<string, string>): GraphResult {
  return {
    status: 429,
    headers,
    body: {
      error: {
        code: 'TooManyRequests',
        message: 'Please retry again later.',
        innerError: { code: '429', date: graphDate(nowMs), message: 'Please retry after', 'request-id': randomUUID(), status: '429' },
      },
    },
  };
}

const graphChallenge = 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';

function unauthenticated(reason: 'missing' | 'invalid' | 'expired', nowMs: number): GraphResult {
  const message = reason === 'missing' ? 'Access token is empty.' : reason === 'expired' ? 'Lifetime validation failed, the token is expired.' : 'Access token validation failure. Invalid audience.';
  return graphError(401, 'InvalidAuthenticationToken', message, nowMs, { headers: { 'www-authenticate': graphChallenge } });
}

const revokedTokenMessage = 'Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp';

/**
 * Graph's answer to a token whose session was revoked: a claims challenge asking for a token not
 * issued before the revocation (entra/identity-platform/claims-challenge.md and
 * app-resilience-continuous-access-evaluation.md: 401, `error="insufficient_claims"`, `claims` the
 * base64 of `{"access_token":{"nbf":{"essential":true, "value":"<epoch seconds>"}}}`); the
 * message and `error_description` are those Graph sends (microsoftgraph/msgraph-sdk-powershell#1741).
 */
function continuousAccessChallenge(notBeforeMs: number, nowMs: number): GraphResult {
  const claims = Buffer.from(`{"access_token":{"nbf":{"essential":true, "value":"${Math.floor(notBeforeMs / 1000)}"}}}`).toString('base64');
  return graphError(401, 'InvalidAuthenticationToken', revokedTokenMessage, nowMs, {
    headers: { 'www-authenticate': `${graphChallenge}, error_description="${revokedTokenMessage}", error="insufficient_claims", claims="${claims}"` },
  });
}
