import type { Config } from '../config';
import { ensureBootstrapKey } from '../../domain/keys/api-keys';
import type { FunctionDefinition, HttpFunctionDefinition, QueueFunctionDefinition, TimerFunctionDefinition } from '../functions/definition';
import { createServices, resetServices, setServices, type ServiceOverrides, type Services } from '../services';
import { createLogger } from '../../adapters/logging/pino-logger';
import { startHttpServer } from './http-server';
import { startQueuePump } from './queue-pump';
import { startTimers } from './timer-scheduler';
import { freePort } from './free-port';

export interface LocalHost {
  /** Base URL of the admin API, ending in /api. */
  readonly url: string;
  /** The sandbox tenant's base URL when M365_MODE=sandbox. */
  readonly sandboxUrl: string | undefined;
  /** The sandbox's certificate as a PEM file under DATA_DIR, for clients that must trust it. */
  readonly sandboxCertificateFile: string | undefined;
  readonly services: Services;
  /** An admin key created on this first start, shown once; undefined otherwise. */
  readonly bootstrapKey: string | undefined;
  /** Graceful stop: stop taking work, finish in-flight work up to graceMs, release the rest. */
  stop(graceMs?: number): Promise<void>;
}

export interface LocalHostOptions extends ServiceOverrides {
  /** Defaults to the app's function table. */
  readonly functions?: readonly FunctionDefinition[];
  /** Fire timers on their schedules (default true). Tests usually turn them off. */
  readonly timers?: boolean;
  /** Start the in-process sandbox tenant in sandbox mode (default true). */
  readonly sandbox?: boolean;
}

/** Starts everything `npm start` runs, in this process: sandbox (in sandbox mode), services, HTTP, queue pump, timers. */
export async function startLocalHost(config: Config, options: LocalHostOptions = {}): Promise<LocalHost> {
  let sandbox: { url: string; certificateFile: string | undefined; close(): Promise<void> } | undefined;
  let effective = config;
  if (config.m365Mode === 'sandbox' && options.sandbox !== false) {
    const { startSandbox } = await import('../../adapters/sandbox/sandbox-server');
    const sandboxLogger = options.logger ?? createLogger({ level: config.logLevel });
    // One clock for both: a test that moves time moves it for the tenant too.
    const started = await startSandbox({ port: config.sandboxPort, dataDir: config.dataDir, logger: sandboxLogger.child({ component: 'sandbox' }), ...(options.clock === undefined ? {} : { clock: options.clock }) });
    sandbox = started;
    // With SANDBOX_PORT=0 the port is known only now; point the default URLs at it.
    const defaultUrl = `https://127.0.0.1:${config.sandboxPort}`;
    effective = {
      ...config,
      authorityUrl: config.authorityUrl === defaultUrl ? started.url : config.authorityUrl,
      graphBaseUrl: config.graphBaseUrl === defaultUrl ? started.url : config.graphBaseUrl,
    };
  }
  if (effective.port === 0) {
    // The OAuth redirect URI needs the real port before anything is wired.
    const port = await freePort();
    effective = { ...effective, port, publicBaseUrl: effective.publicBaseUrl === 'http://localhost:0' ? `http://localhost:${port}` : effective.publicBaseUrl };
  }

  const services = await createServices(effective, options);
  setServices(services);
  const log = services.logger.child({ component: 'local-host' });

  const functions = options.functions ?? (await import('../../../functions/table')).functionTable;
  const httpDefinitions = functions.filter((d): d is HttpFunctionDefinition => d.kind === 'http');
  const queueDefinitions = functions.filter((d): d is QueueFunctionDefinition => d.kind === 'queue');
  const timerDefinitions = functions.filter((d): d is TimerFunctionDefinition => d.kind === 'timer');

  const bootstrapKey = await ensureBootstrapKey(services);
  const server = await startHttpServer({ port: effective.port, definitions: httpDefinitions, logger: log });
  const pump = services.consumer === undefined ? undefined : startQueuePump({ consumer: services.consumer, definitions: queueDefinitions, concurrency: effective.queueConcurrency, logger: log });
  const timers = options.timers === false ? undefined : startTimers(timerDefinitions, log);

  return {
    url: server.url,
    sandboxUrl: sandbox?.url,
    sandboxCertificateFile: sandbox?.certificateFile,
    services,
    bootstrapKey,
    async stop(graceMs = config.shutdownGraceMs) {
      await Promise.allSettled([server.stop(graceMs), pump?.stop(graceMs), timers?.stop(graceMs)]);
      await Promise.allSettled([sandbox?.close(), services.close()]);
      resetServices();
    },
  };
}
