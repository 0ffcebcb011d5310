import { ConfigError, loadConfig } from '../config';
import { ensureBootstrapKey } from '../../domain/keys/api-keys';
import type { HttpFunctionDefinition, QueueFunctionDefinition, TimerFunctionDefinition } from '../functions/definition';
import { createServices, setServices } from '../services';
import { startHttpServer } from './http-server';
import { startQueuePump } from './queue-pump';
import { startTimers } from './timer-scheduler';

/**
 * The local host behind `npm start`: serves the function table's HTTP functions on PORT under /api,
 * pumps the embedded queue into its queue functions and fires its timers, like the Functions host.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const services = await createServices(config);
  setServices(services);
  const log = services.logger.child({ component: 'local-host' });

  let sandbox: { url: string; close(): Promise<void> } | undefined;
  if (config.m365Mode === 'sandbox') {
    const { startSandbox } = await import('../../adapters/sandbox/sandbox-server');
    sandbox = await startSandbox({ port: config.sandboxPort, dataDir: config.dataDir, logger: services.logger.child({ component: 'sandbox' }) });
  }

  const { functionTable } = await import('../../../functions/table');
  const httpDefinitions = functionTable.filter((d): d is HttpFunctionDefinition => d.kind === 'http');
  const queueDefinitions = functionTable.filter((d): d is QueueFunctionDefinition => d.kind === 'queue');
  const timerDefinitions = functionTable.filter((d): d is TimerFunctionDefinition => d.kind === 'timer');

  const bootstrapKey = await ensureBootstrapKey(services);
  if (bootstrapKey !== undefined) {
    // Printed once, straight to the terminal: the logger would (rightly) redact it.
    process.stdout.write(`\nFirst start: created an admin API key. It is shown only this once:\n\n  ${bootstrapKey}\n\nSend it as the x-api-key header.\n\n`);
  }

  const server = await startHttpServer({ port: config.port, definitions: httpDefinitions, logger: log });
  const pump = services.consumer === undefined ? undefined : startQueuePump({ consumer: services.consumer, definitions: queueDefinitions, concurrency: config.queueConcurrency, logger: log });
  const timers = startTimers(timerDefinitions, log);

  process.stdout.write(`m365-bridge listening on ${server.url}${sandbox === undefined ? '' : ` (sandbox tenant on ${sandbox.url})`}\n`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    const hardStop = setTimeout(() => process.exit(0), 4_500);
    hardStop.unref();
    const graceMs = Math.min(config.shutdownGraceMs, 3_500);
    await Promise.allSettled([server.stop(graceMs), pump?.stop(graceMs), timers.stop(graceMs)]);
    await Promise.allSettled([sandbox?.close(), services.close()]);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`m365-bridge failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
