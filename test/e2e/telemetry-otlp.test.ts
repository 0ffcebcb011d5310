import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/app/host/free-port';
import { repoRoot, startHostProcess, waitFor, type HostProcess } from '../support/host-process';
import { testAdminKey } from '../support/test-host';
import { bindingIn, connectTenant, createUser, type AdminApi, type Json } from '../functions/provisioning-support';

/** A span as the OTLP/HTTP JSON encoding carries it (ids in hex). */
interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes?: readonly { key: string; value: { stringValue?: string; intValue?: number | string; boolValue?: boolean } }[];
}

const spanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** A log record as the OTLP/HTTP JSON encoding carries it. */
interface OtlpLogRecord {
  readonly traceId?: string;
  readonly spanId?: string;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: { stringValue?: string };
}

/** An OTLP/HTTP receiver on loopback: keeps every span, metric and log export it is sent (JSON, as the http exporters send it). */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; metricNames: Set<string>; logRecords: OtlpLogRecord[]; raw: string[]; close(): Promise<void> }> {
  const spans: OtlpSpan[] = [];
  const logRecords: OtlpLogRecord[] = [];
  const raw: string[] = [];
  const metricNames = new Set<string>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      raw.push(Buffer.concat(chunks).toString('utf8'));
      const body = JSON.parse(raw.at(-1) as string) as Json;
      if (req.url === '/v1/traces') {
        for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans as OtlpSpan[]));
      } else if (req.url === '/v1/metrics') {
        for (const resource of body.resourceMetrics ?? []) for (const scope of resource.scopeMetrics ?? []) for (const metric of scope.metrics ?? []) metricNames.add(metric.name as string);
      } else if (req.url === '/v1/logs') {
        for (const resource of body.resourceLogs ?? []) for (const scope of resource.scopeLogs ?? []) logRecords.push(...(scope.logRecords as OtlpLogRecord[]));
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    metricNames,
    logRecords,
    raw,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  if (value === undefined) return undefined;
  return value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue));
}

const bindRoute = 'PUT /api/connections/{id}/users/{userId}';
const isGraphWrite = (span: OtlpSpan): boolean => span.kind === spanKind.client && /^(POST|PATCH) \/v1\.0\/users/.test(span.name);

// The real `npm start` entry point as a child process (the exporters load their HTTP transport with a
// dynamic import, which the test runner's module sandbox does not allow). Its graceful stop flushes
// every exporter, so the receiver has everything once the process has exited.
describe('OpenTelemetry over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let run: HostProcess;
  let dataDir: string;
  let api: AdminApi;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build-if-needed.js')], { cwd: repoRoot, stdio: 'inherit' });
    receiver = await startReceiver();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-otlp-'));
    const port = await freePort();
    run = startHostProcess({ PORT: String(port), SANDBOX_PORT: String(await freePort()), DATA_DIR: dataDir, ADMIN_API_KEY: testAdminKey, LOG_LEVEL: 'debug', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    await waitFor(() => run.output().includes('listening on'), 30_000);
    api = {
      api: (pathBelowApi, init = {}) => {
        const { json, headers, ...rest } = init;
        return fetch(`http://localhost:${port}/api/${pathBelowApi.replace(/^\//, '')}`, {
          ...rest,
          headers: { 'x-api-key': testAdminKey, ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...(headers as Record<string, string> | undefined) },
          ...(json === undefined ? {} : { body: JSON.stringify(json) }),
        });
      },
    };
  }, 180_000);

  afterAll(async () => {
    if (run.child.exitCode === null) {
      run.child.kill('SIGTERM');
      await run.exited;
    }
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows one trace from the bind request through the provisioning queue to the Graph write, and the meters', async () => {
    const connection = await connectTenant(api, { domains: ['contoso.com'] });
    const password = 'Traced-Initial-Passw0rd!';
    const user = await createUser(api, { email: 'traced.employee@contoso.com', firstName: 'Traced', lastName: 'Employee' });
    expect((await api.api(`users/${user.id as string}/password`, { method: 'PUT', json: { password } })).status).toBe(204);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpanId = '00f067aa0ba902b7';
    const bound = await api.api(`connections/${connection.id as string}/users/${user.id as string}`, { method: 'PUT', headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } });
    expect(bound.status).toBe(202);
    await bindingIn(api, connection.id as string, user.id as string, 'provisioned');

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);

    // Nothing secret leaves in the exports or the log lines: not the admin key, not the password sent to Graph.
    for (const text of [...receiver.raw, run.output()]) for (const secret of [testAdminKey, password]) expect(text).not.toContain(secret);

    const trace = receiver.spans.filter((span) => span.traceId === traceId);
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const ancestry = (span: OtlpSpan): OtlpSpan[] => {
      const chain = [span];
      for (let parent = byId.get(span.parentSpanId ?? ''); parent !== undefined; parent = byId.get(parent.parentSpanId ?? '')) chain.push(parent);
      return chain;
    };

    // The request continues the caller's traceparent.
    const request = trace.find((span) => span.kind === spanKind.server && span.name === bindRoute);
    expect(request).toMatchObject({ parentSpanId: callerSpanId });
    expect(attribute(request!, 'http.response.status_code')).toBe(202);

    // The Graph write, under the provisioning consumer, under the send, under the request.
    const write = trace.find(isGraphWrite);
    expect(write).toBeDefined();
    const chain = ancestry(write!).map((span) => `${span.kind} ${span.name}`);
    const consumer = chain.indexOf(`${spanKind.consumer} process provisioning`);
    const producer = chain.indexOf(`${spanKind.producer} send provisioning`);
    expect([consumer >= 1, producer > consumer, chain.at(-1)]).toEqual([true, true, `${spanKind.server} ${bindRoute}`]);
    expect(attribute(write!, 'm365bridge.connection_id')).toBe(connection.id);
    expect(attribute(write!, 'http.response.status_code')).toEqual(expect.any(Number));

    // Store calls at the port boundary are spans of the same trace.
    expect(trace.some((span) => span.kind === spanKind.client && span.name === 'get connections' && attribute(span, 'db.system.name') === 'sqlite')).toBe(true);

    // Log lines written inside the trace carry its ids.
    const lines = run.output().split('\n').filter((line) => line.includes(`"trace_id":"${traceId}"`)).map((line) => JSON.parse(line) as Json);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(byId.has(line.span_id as string)).toBe(true);
    // ...and reach the OTLP receiver as log records of that trace, with their severity.
    const records = receiver.logRecords.filter((record) => record.traceId === traceId);
    expect(records.map((record) => record.body?.stringValue)).toEqual(expect.arrayContaining(lines.map((line) => line.msg)));
    for (const record of records) {
      expect(byId.has(record.spanId as string)).toBe(true);
      expect(record).toMatchObject({ severityNumber: expect.any(Number), severityText: expect.stringMatching(/^(DEBUG|INFO|WARN|ERROR)$/) });
    }

    // The meters went out over OTLP too.
    expect([...receiver.metricNames]).toEqual(expect.arrayContaining(['m365bridge.graph.requests', 'm365bridge.queue.depth']));
  }, 60_000);
});
