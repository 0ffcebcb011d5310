import { ConfigError, loadConfig, type Config } from '../config';
import { startLocalHost } from './local-host';
import { heapLimitMb } from './node-heap';

/**
 * `npm start`: serves the function table's HTTP functions on PORT under /api, pumps the embedded
 * queue into its queue functions and fires its timers, like the Functions host would.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  const host = await startLocalHost(config);
  if (host.bootstrapKey !== undefined) {
    // Printed once, straight to the terminal: the logger would (rightly) redact it.
    process.stdout.write(`\nFirst start: created an admin API key. It is shown only this once:\n\n  ${host.bootstrapKey}\n\nSend it as the x-api-key header.\n\n`);
  }
  process.stdout.write(`m365-bridge listening on ${host.url}${host.sandboxUrl === undefined ? '' : ` (sandbox tenant on ${host.sandboxUrl})`}; V8 heap limit ${heapLimitMb()} MB\n`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    host.services.logger.info('stopping', { signal });
    // The contract is an exit within 5 s whatever a handler does.
    setTimeout(() => process.exit(0), 4_500).unref();
    await host.stop(Math.min(config.shutdownGraceMs, 3_500));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`m365-bridge failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
