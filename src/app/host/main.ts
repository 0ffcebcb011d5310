import { sandboxSignInAccounts } from '../../adapters/sandbox/seed';
import { ConfigError, loadConfig, type Config } from '../config';
import { startLocalHost, type LocalHost } from './local-host';
import { heapLimitMb } from './node-heap';

/** What a newcomer needs after `npm start`: where everything is, how to sign in, and the first admin key. */
function startBanner(host: LocalHost): string {
  const site = host.url.replace(/\/api$/, '');
  const lines = [
    `m365-bridge listening on ${host.url}; V8 heap limit ${heapLimitMb()} MB`,
    `  API            ${host.url}`,
    `  Console        ${site}/`,
    `  API reference  ${host.url}/docs`,
  ];
  if (host.sandboxUrl !== undefined) {
    lines.push(
      `  Sandbox tenant ${host.sandboxUrl} (a simulator of Entra ID and Graph; self-signed certificate${host.sandboxCertificateFile === undefined ? '' : `: ${host.sandboxCertificateFile}`})`,
      '  Sandbox sign-in accounts (simulated, not secrets), for the consent page:',
      ...sandboxSignInAccounts.map((a) => `    ${a.upn.padEnd(26)} password ${a.password}${a.note === undefined ? '' : `  (${a.note})`}`),
    );
  }
  if (host.bootstrapKey !== undefined) {
    // Printed once, straight to the terminal: the logger would (rightly) redact it.
    lines.push('', 'First start: created an admin API key. It is shown only this once:', '', `  ${host.bootstrapKey}`, '', 'Send it as the x-api-key header, or sign in to the console with it.');
  }
  return `${lines.join('\n')}\n\n`;
}

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
  process.stdout.write(startBanner(host));

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
