import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/app/config';
import { createLogger } from '../../src/adapters/logging/pino-logger';
import { startLocalHost, type LocalHost, type LocalHostOptions } from '../../src/app/host/local-host';

export const testAdminKey = 'test-admin-key-0123456789abcdef';

export interface TestHost extends LocalHost {
  readonly dataDir: string;
  /** Every log line the host wrote, as text (to prove what never reaches a log). */
  logText(): string;
  /** fetch against the admin API with the admin key (override headers to change it). */
  api(pathBelowApi: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** Stop and delete the data directory (unless keepData). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/**
 * Starts the real local host in-process on a random port with a fresh DATA_DIR (or the given one),
 * an admin key from ADMIN_API_KEY, timers off and logs captured in memory.
 */
export async function startTestHost(options: LocalHostOptions & { env?: Record<string, string>; dataDir?: string } = {}): Promise<TestHost> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-test-'));
  const config = loadConfig({ PORT: '0', SANDBOX_PORT: '0', DATA_DIR: dataDir, ADMIN_API_KEY: testAdminKey, LOG_LEVEL: 'debug', ...options.env });
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = options.logger ?? createLogger({ level: 'debug', destination });
  const host = await startLocalHost({ ...config, port: 0 }, { timers: false, ...options, logger });
  return {
    ...host,
    dataDir,
    logText: () => lines.join(''),
    async api(pathBelowApi, init = {}) {
      const { json, headers, ...rest } = init;
      return fetch(`${host.url}/${pathBelowApi.replace(/^\//, '')}`, {
        ...rest,
        headers: { 'x-api-key': testAdminKey, ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...(headers as Record<string, string> | undefined) },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      });
    },
    async close(closeOptions = {}) {
      await host.stop(1_000);
      if (closeOptions.keepData !== true && options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
