import { writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../domain/ports/clock';
import type { Logger } from '../../domain/ports/logger';
import { SandboxGraph } from './graph-api';
import { GraphEndpoint, RequestLog } from './graph-endpoint';
import { GraphThrottler } from './graph-throttling';
import { SandboxSubscriptions } from './graph-subscriptions';
import { loopbackCertificatePem, loopbackPrivateKeyPem } from './loopback-tls';
import { defaultAuthoritySettings, SandboxAuthority } from './sandbox-authority';
import { SandboxControl } from './sandbox-control';
import { jsonReply, type SandboxReply, type SandboxRequest } from './sandbox-http';
import { SandboxSigningKey } from './sandbox-jwt';
import { SandboxState } from './sandbox-state';
import { memoryOnlyStore } from './sandbox-store';
import { openSqliteSandboxStore } from './sqlite-sandbox-store';

export interface SandboxOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** State persists in `<dataDir>/sandbox.db`; undefined keeps it in memory only. */
  readonly dataDir?: string;
  /** Above 1 shrinks throttling windows and token lifetimes by that factor (benchmarks). */
  readonly timeScale?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

export interface SandboxHandle {
  /** `https://127.0.0.1:<port>`: authority and Graph (`<url>/v1.0`) both live here. */
  readonly url: string;
  readonly port: number;
  /** The control API in process (same operations as /_sandbox over HTTP). */
  readonly control: SandboxControl;
  /** `<dataDir>/sandbox-cert.pem`, the certificate it serves, for clients to trust (`curl --cacert`, NODE_EXTRA_CA_CERTS); undefined without a data directory. */
  readonly certificateFile: string | undefined;
  close(): Promise<void>;
}

const maxBodyBytes = 4 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBodyBytes ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: SandboxReply): void {
  res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
  res.end(reply.body);
}

/** Starts the simulated Entra authority + Microsoft Graph on loopback HTTPS. */
export async function startSandbox(options: SandboxOptions = {}): Promise<SandboxHandle> {
  const clock = options.clock ?? systemClock;
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new TypeError('timeScale must be a positive number');
  const host = options.host ?? '127.0.0.1';
  const store = options.dataDir === undefined ? memoryOnlyStore : openSqliteSandboxStore(options.dataDir);
  // Public by design (see loopback-tls.ts), so world-readable: any local client may need to trust it.
  const certificateFile = options.dataDir === undefined ? undefined : path.join(options.dataDir, 'sandbox-cert.pem');
  if (certificateFile !== undefined) writeFileSync(certificateFile, loopbackCertificatePem, { mode: 0o644 });
  const state = new SandboxState(store, clock);
  const key = SandboxSigningKey.loadOrCreate(state.meta('signingKey'), (serialized) => state.saveMeta('signingKey', serialized));
  const log = new RequestLog();
  const throttler = new GraphThrottler(timeScale);

  // The handlers need the URL, which is known only once the server listens.
  const routing: { dispatch?: (req: SandboxRequest) => Promise<SandboxReply | 'reset'> } = {};
  const server = https.createServer({ key: loopbackPrivateKeyPem, cert: loopbackCertificatePem }, (req, res) => {
    void (async () => {
      try {
        const bodyText = await readBody(req);
        if (bodyText === undefined) {
          send(res, jsonReply(413, { error: { code: 'RequestEntityTooLarge', message: 'The request body is too large.' } }));
          return;
        }
        const url = new URL(req.url ?? '/', 'https://sandbox.invalid');
        const headers: Record<string, string | undefined> = {};
        for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        const dispatch = routing.dispatch;
        if (!dispatch) throw new Error('sandbox is not ready');
        const reply = await dispatch({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers, bodyText });
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        send(res, reply);
      } catch (error) {
        options.logger?.error('sandbox request failed', { path: req.url?.split('?')[0], error: error instanceof Error ? error.message : String(error) });
        if (!res.headersSent) send(res, jsonReply(500, { error: { code: 'InternalServerError', message: 'The sandbox failed to handle the request.' } }));
      }
    })();
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const authority = new SandboxAuthority(state, key, url, clock, timeScale, { ...defaultAuthoritySettings });
  const subscriptions = new SandboxSubscriptions(url, clock, timeScale, (json) => state.saveMeta('subscriptions', json), state.meta('subscriptions'), options.logger);
  state.onDirectoryChange = (tenantId, collection, objectId) => subscriptions.changed(tenantId, collection, objectId, 'updated');
  const control = new SandboxControl(state, authority, throttler, log, clock, subscriptions);
  const graph = new SandboxGraph(state, url, clock, timeScale, () => control.faults().replicationLagMs);
  const endpoint = new GraphEndpoint(graph, subscriptions, authority, throttler, () => control.faults(), log, clock, timeScale);

  routing.dispatch = async (req) => {
    if (req.path === '/_sandbox' || req.path.startsWith('/_sandbox/')) return control.handle(req);
    if (req.path === '/v1.0' || req.path.startsWith('/v1.0/')) {
      const outcome = await endpoint.handle(req, req.path.slice('/v1.0'.length) || '/');
      return outcome.kind === 'reset' ? 'reset' : outcome.reply;
    }
    return authority.handle(req) ?? jsonReply(404, { error: { code: 'NotFound', message: `Nothing is served at ${req.path}` } });
  };
  options.logger?.info('sandbox tenant listening', { url, persistent: options.dataDir !== undefined, timeScale });

  return {
    url,
    port,
    control,
    certificateFile,
    close: async () => {
      subscriptions.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      store.close();
    },
  };
}
