import { loadConfig } from '../../app/config';
import { createLogger } from '../logging/pino-logger';
import { startSandbox } from './sandbox-server';

/** `npm run sandbox`: the sandbox tenant alone, on SANDBOX_PORT, state under DATA_DIR. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.logLevel, name: 'sandbox' });
  const sandbox = await startSandbox({ port: config.sandboxPort, dataDir: config.dataDir, logger });
  process.stdout.write(`sandbox tenant at ${sandbox.url} (Graph: ${sandbox.url}/v1.0, control: ${sandbox.url}/_sandbox)\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`sandbox failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
