import https from 'node:https';
import type { Clock } from '../../src/domain/ports/clock';
import { sandboxHttpsAgent } from '../../src/adapters/sandbox/sandbox-trust';
import { startSandbox, type SandboxHandle, type SandboxOptions } from '../../src/adapters/sandbox/sandbox-server';
import { sandboxTenants } from '../../src/adapters/sandbox/seed';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // Tests read fields of decoded JSON freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** One HTTPS call to the sandbox, trusting its loopback certificate; redirects are not followed. */
export function call(url: string, init: { method?: string; body?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...init.headers };
    let data: string | undefined;
    if (init.form) {
      data = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (init.body !== undefined) {
      data = JSON.stringify(init.body);
      headers['content-type'] = 'application/json';
    }
    const req = https.request(url, { method: init.method ?? (data === undefined ? 'GET' : 'POST'), headers, agent: sandboxHttpsAgent() }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = text;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A clock tests move by hand. */
export function manualClock(start = Date.parse('2026-01-15T10:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => new Date(now), advance: (ms) => void (now += ms) };
}

export const contoso = sandboxTenants.contoso;

/** A started sandbox plus a Graph caller holding an admin token for contoso. */
export interface GraphFixture {
  sandbox: SandboxHandle;
  graph(path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }): Promise<HttpResult>;
  tokenFor(upn: string, tenantId?: string): string;
}

export async function startGraphFixture(options: SandboxOptions = {}): Promise<GraphFixture> {
  const sandbox = await startSandbox(options);
  // A fresh token per call: tests move the clock past token lifetimes.
  const tokenFor = (upn: string, tenantId: string = contoso.id): string => sandbox.control.issueToken(tenantId, upn).access_token;
  return {
    sandbox,
    tokenFor,
    graph: (path, init = {}) => call(`${sandbox.url}/v1.0${path}`, { ...init, headers: { authorization: `Bearer ${tokenFor(contoso.adminUpn)}`, ...init.headers } }),
  };
}

/** A password that meets Entra's complexity rule. */
export const strongPassword = 'xWwvJ]6NMw+bWH-d';
