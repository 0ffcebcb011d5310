import type { Services } from './services';
import { connectionsHealth, type ConnectionsHealth } from '../domain/connections/connection-health';

export interface CheckResult {
  readonly status: 'ok' | 'down';
  readonly latencyMs: number;
  readonly error?: string;
}

/**
 * Without an API key only `status` is shown: which dependency failed, and which tenants wait for
 * re-consent, is for the service's operators.
 */
export interface HealthReport {
  readonly status: 'ok' | 'down';
  readonly checks?: Readonly<Record<string, CheckResult>>;
  /**
   * Each connection's last successful Graph call and token refresh. A connection that fails, or
   * waits for a Global Administrator's re-consent, is an alert, not an outage: status stays ok.
   */
  readonly connections?: ConnectionsHealth;
}

const checkTimeoutMs = 2_000;

async function timed(probe: () => Promise<void>): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
      }),
    ]);
    return { status: 'ok', latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Probes every dependency in parallel; the service is down when any of them is. `details` adds what only a key holder may see. */
export async function checkHealth(services: Services, options: { details: boolean }): Promise<HealthReport> {
  const [store, queue, secrets] = await Promise.all([
    timed(() => services.store.ping()),
    timed(() => services.sender.ping()),
    timed(() => services.secrets.ping()),
  ]);
  const checks = { store, queue, secrets };
  const down = Object.values(checks).some((check) => check.status === 'down');
  if (!options.details) return { status: down ? 'down' : 'ok' };
  const connections = store.status === 'ok' ? await connectionsHealth(services.store, services.m365.activity).catch(() => undefined) : undefined;
  return { status: down ? 'down' : 'ok', checks, ...(connections === undefined ? {} : { connections }) };
}
