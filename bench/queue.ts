import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { openDatabase } from '../src/adapters/sqlite/database';
import { SqliteWorkQueue } from '../src/adapters/sqlite/sqlite-work-queue';
import { startQueuePump } from '../src/app/host/queue-pump';
import type { OutgoingMessage } from '../src/domain/ports/work-queue';
import { parseBenchArgs } from './support/bench-args';

interface Settings {
  readonly messages: number;
  readonly sessions: number;
  readonly concurrency: number;
  readonly batch: number;
  /** Messages per second of the paced run that measures latency below saturation. */
  readonly rate: number;
  readonly pacedMessages: number;
}

const defaults: Settings = { messages: 20_000, sessions: 1_000, concurrency: 32, batch: 100, rate: 1_000, pacedMessages: 5_000 };
const bodyBytes = 1_024;

function parseArgs(args: readonly string[]): Settings {
  return parseBenchArgs(args, defaults, 'queue [--messages N] [--sessions N] [--concurrency N] [--batch N] [--rate N] [--paced-messages N]');
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** A message whose JSON body is exactly 1 KB and carries its send time. */
function makeMessage(run: string, seq: number, sessions: number): OutgoingMessage {
  const head = { seq, sentAtMs: performance.now(), padding: '' };
  const padding = 'x'.repeat(bodyBytes - JSON.stringify(head).length);
  return { messageId: `${run}-${seq}`, sessionId: `user-${seq % sessions}`, body: { ...head, padding } };
}

interface Measured {
  readonly elapsedMs: number;
  /** Process CPU time (user + system): unlike wall time, it hardly depends on what else the machine runs. */
  readonly cpuMs: number;
  readonly latenciesMs: number[];
}

/**
 * Sends `count` messages in batches (every `intervalMs`, or back to back when 0) while the pump
 * drains them; ends once every message was handled and completed.
 */
async function measure(queue: SqliteWorkQueue, settings: Settings, run: string, count: number, intervalMs: number): Promise<Measured> {
  const latenciesMs: number[] = [];
  let allHandled: () => void = () => undefined;
  const handled = new Promise<void>((resolve) => (allHandled = resolve));
  const pump = startQueuePump({
    consumer: queue,
    concurrency: settings.concurrency,
    logger: createLogger({ level: 'warn' }),
    definitions: [
      {
        kind: 'queue',
        name: 'bench',
        queueName: 'provisioning',
        sessions: true,
        handler: async (message) => {
          latenciesMs.push(performance.now() - (message.body as { sentAtMs: number }).sentAtMs);
          if (latenciesMs.length === count) allHandled();
        },
      },
    ],
  });
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let sent = 0; sent < count; sent += settings.batch) {
    const batch = Array.from({ length: Math.min(settings.batch, count - sent) }, (_, i) => makeMessage(run, sent + i, settings.sessions));
    await queue.send('provisioning', batch);
    // Yields to the pump between batches, as a producer on another request would.
    await new Promise((resolve) => (intervalMs === 0 ? setImmediate(resolve) : setTimeout(resolve, intervalMs)));
  }
  await handled;
  // Waits for the last completions to commit.
  await pump.stop(10_000);
  const leftOver = await queue.receive('provisioning', { maxMessages: 1, sessions: true });
  const { items: deadLetters } = await queue.deadLetters('provisioning', { limit: 1 });
  if (leftOver.length > 0 || deadLetters.length > 0) throw new Error(`${run}: messages left in the queue or dead-lettered after the run`);
  const cpu = process.cpuUsage(cpuBefore);
  return { elapsedMs: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1_000, latenciesMs: latenciesMs.sort((a, b) => a - b) };
}

function describeLatency(latenciesMs: readonly number[]): string {
  return `p50 ${percentile(latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(latenciesMs, 99).toFixed(1)} ms, max ${percentile(latenciesMs, 100).toFixed(1)} ms`;
}

/** Throughput and send-to-handler latency of the embedded queue through the local host's pump. */
export async function run(args: string[]): Promise<void> {
  const settings = parseArgs(args);
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-queue-'));
  const db = openDatabase(path.join(dir, 'queue.db'));
  try {
    const queue = new SqliteWorkQueue(db, { maxDeliveries: 10 });
    process.stdout.write(
      `queue: ${bodyBytes} B messages over ${settings.sessions} sessions, pump concurrency ${settings.concurrency}, ` +
        `send batches of ${settings.batch}, SQLite WAL file in ${dir}\n`,
    );

    const saturated = await measure(queue, settings, 'saturated', settings.messages, 0);
    const throughput = settings.messages / (saturated.elapsedMs / 1_000);
    process.stdout.write(
      `saturated: ${settings.messages} messages sent, received, handled and completed in ${(saturated.elapsedMs / 1_000).toFixed(2)} s ` +
        `= ${Math.round(throughput)} msgs/s (target >= 2000)\n` +
        `  CPU ${((saturated.cpuMs * 1_000) / settings.messages).toFixed(0)} µs per message: ~${Math.round(settings.messages / (saturated.cpuMs / 1_000))} msgs/s on one otherwise idle core\n` +
        `  send->handler latency with the backlog this builds: ${describeLatency(saturated.latenciesMs)}\n`,
    );

    // Small batches every 10 ms, below capacity: latency then shows the pump's reaction, not a backlog.
    const intervalMs = 10;
    const pacedSettings = { ...settings, batch: Math.max(1, Math.round((settings.rate * intervalMs) / 1_000)) };
    const paced = await measure(queue, pacedSettings, 'paced', settings.pacedMessages, intervalMs);
    process.stdout.write(
      `paced at ~${settings.rate} msgs/s (${pacedSettings.batch} every ${intervalMs} ms): ${settings.pacedMessages} messages, ` +
        `achieved ${Math.round(settings.pacedMessages / (paced.elapsedMs / 1_000))} msgs/s\n` +
        `  send->handler latency: ${describeLatency(paced.latenciesMs)}\n`,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
