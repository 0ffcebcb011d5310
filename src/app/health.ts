import type { Services } from './services';

export interface CheckResult {
  readonly status: 'ok' | 'down';
  readonly latencyMs: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'down';
  readonly checks: Readonly<Record<string, CheckResult>>;
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

/** Probes every dependency in parallel; the service is down when any of them is. */
export async function checkHealth(services: Services): Promise<HealthReport> {
  const [store, queue, secrets] = await Promise.all([
    timed(() => services.store.ping()),
    timed(() => services.sender.ping()),
    timed(() => services.secrets.ping()),
  ]);
  const checks = { store, queue, secrets };
  const down = Object.values(checks).some((check) => check.status === 'down');
  return { status: down ? 'down' : 'ok', checks };
}
