import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Database } from 'better-sqlite3';
import type { InvocationContext } from '@azure/functions';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { SqliteWorkQueue } from '../../src/adapters/sqlite/sqlite-work-queue';
import type { QueueFunctionDefinition } from '../../src/app/functions/definition';
import { startQueuePump } from '../../src/app/host/queue-pump';
import { PoisonMessageError } from '../../src/domain/errors';
import type { LogFields, Logger } from '../../src/domain/ports/logger';
import type { DeliveredMessage, QueueName } from '../../src/domain/ports/work-queue';
import { ManualClock } from '../support/manual-clock';

interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
}

class RecordingLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly bound: LogFields = {},
  ) {}
  debug(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', message, fields: { ...this.bound, ...fields } });
  }
  info(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', message, fields: { ...this.bound, ...fields } });
  }
  warn(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', message, fields: { ...this.bound, ...fields } });
  }
  error(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', message, fields: { ...this.bound, ...fields } });
  }
  child(fields: LogFields): Logger {
    return new RecordingLogger(this.lines, { ...this.bound, ...fields });
  }
}

type Handler = (message: DeliveredMessage, context: InvocationContext) => Promise<void>;

function queueFunction(queueName: QueueName, sessions: boolean, handler: Handler): QueueFunctionDefinition {
  return { kind: 'queue', name: `${queueName}-worker`, queueName, sessions, handler };
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('startQueuePump', () => {
  const maxDeliveries = 3;
  const lockDurationMs = 30_000;
  let dir: string;
  let file: string;
  let db: Database;
  let clock: ManualClock;
  let queue: SqliteWorkQueue;
  let logger: RecordingLogger;
  const stops: Array<() => Promise<void>> = [];

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'queue-pump-'));
    file = path.join(dir, 'queue.db');
    db = openDatabase(file);
    clock = new ManualClock(new Date('2030-01-01T00:00:00.000Z'));
    queue = new SqliteWorkQueue(db, { clock, maxDeliveries, lockDurationMs });
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function pump(definitions: readonly QueueFunctionDefinition[], options: { concurrency?: number; pollIntervalMs?: number; consumer?: SqliteWorkQueue } = {}) {
    const started = startQueuePump({
      consumer: options.consumer ?? queue,
      definitions,
      concurrency: options.concurrency ?? 4,
      logger,
      clock,
      pollIntervalMs: options.pollIntervalMs ?? 20,
    });
    stops.push(() => started.stop(0));
    return started;
  }

  it('runs each session in order and one at a time, while sessions run in parallel', async () => {
    const sessions = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    const perSession = 6;
    const seen = new Map<string, string[]>();
    const active = new Map<string, number>();
    let running = 0;
    let maxRunning = 0;
    let overlapInSession = false;
    pump(
      [
        queueFunction('provisioning', true, async (message) => {
          const session = message.sessionId!;
          active.set(session, (active.get(session) ?? 0) + 1);
          if (active.get(session)! > 1) overlapInSession = true;
          running += 1;
          maxRunning = Math.max(maxRunning, running);
          await sleep(Math.random() * 4);
          seen.set(session, [...(seen.get(session) ?? []), message.messageId]);
          running -= 1;
          active.set(session, active.get(session)! - 1);
        }),
      ],
      { concurrency: 4 },
    );
    for (let i = 0; i < perSession; i += 1) {
      await queue.send(
        'provisioning',
        sessions.map((session) => ({ messageId: `${session}-${i}`, sessionId: session, body: { i } })),
      );
    }
    await waitFor(() => [...seen.values()].reduce((sum, list) => sum + list.length, 0) === sessions.length * perSession);
    for (const session of sessions) expect(seen.get(session)).toEqual(Array.from({ length: perSession }, (_, i) => `${session}-${i}`));
    expect(overlapInSession).toBe(false);
    expect(maxRunning).toBe(4);
    expect(await queue.receive('provisioning', { maxMessages: 100, sessions: true })).toEqual([]);
  });

  it('hands the handler the message and an invocation context that logs with its ids', async () => {
    const calls: Array<{ message: DeliveredMessage; functionName: string; invocationId: string }> = [];
    pump([
      queueFunction('imports', false, async (message, context) => {
        context.log('importing', message.messageId);
        calls.push({ message, functionName: context.functionName, invocationId: context.invocationId });
      }),
    ]);
    await queue.send('imports', [{ messageId: 'job-1', body: { jobId: 'job-1' } }]);
    await waitFor(() => calls.length === 1);
    expect(calls[0]!.message).toEqual({ messageId: 'job-1', deliveryCount: 1, enqueuedAt: clock.now(), body: { jobId: 'job-1' } });
    expect(calls[0]!.functionName).toBe('imports-worker');
    expect(logger.lines).toContainEqual({
      level: 'info',
      message: 'importing job-1',
      fields: { functionName: 'imports-worker', invocationId: calls[0]!.invocationId, messageId: 'job-1' },
    });
  });

  it('wakes on an in-process send instead of waiting for the next poll', async () => {
    const handled: string[] = [];
    pump([queueFunction('imports', false, async (message) => void handled.push(message.messageId))], { pollIntervalMs: 60_000 });
    await sleep(10);
    const sentAt = Date.now();
    await queue.send('imports', [{ messageId: 'm1', body: {} }]);
    await waitFor(() => handled.length === 1);
    expect(Date.now() - sentAt).toBeLessThan(1_000);
  });

  it('polls for scheduled messages once they are due', async () => {
    const handled: string[] = [];
    pump([queueFunction('imports', false, async (message) => void handled.push(message.messageId))]);
    await queue.send('imports', [{ messageId: 'later', body: {}, scheduledEnqueueTime: new Date(clock.now().getTime() + 60_000) }]);
    await sleep(60);
    expect(handled).toEqual([]);
    clock.advance(60_000);
    await waitFor(() => handled.length === 1);
  });

  it('abandons on a throw, redelivers, and dead-letters with the reason after max deliveries', async () => {
    const deliveries: number[] = [];
    pump([
      queueFunction('provisioning', true, async (message) => {
        deliveries.push(message.deliveryCount);
        throw new Error('Graph answered 503');
      }),
    ]);
    await queue.send('provisioning', [{ messageId: 'm1', sessionId: 'u1', body: {} }]);
    await waitFor(async () => (await queue.deadLetters('provisioning', { limit: 1 })).items.length === 1);
    expect(deliveries).toEqual([1, 2, 3]);
    expect((await queue.deadLetters('provisioning', { limit: 1 })).items[0]).toMatchObject({ messageId: 'm1', reason: 'MaxDeliveryCountExceeded: Graph answered 503' });
    expect(logger.lines.filter((line) => line.level === 'warn').map((line) => line.fields.deliveryCount)).toEqual([1, 2]);
    expect(logger.lines.find((line) => line.level === 'error')).toMatchObject({ fields: { messageId: 'm1', sessionId: 'u1', error: 'Graph answered 503' } });
  });

  it('dead-letters a PoisonMessageError at once with its reason', async () => {
    let calls = 0;
    pump([
      queueFunction('directory-commands', false, async () => {
        calls += 1;
        throw new PoisonMessageError('body.userId is missing');
      }),
    ]);
    await queue.send('directory-commands', [{ messageId: 'bad', body: {} }]);
    await waitFor(async () => (await queue.deadLetters('directory-commands', { limit: 1 })).items.length === 1);
    expect((await queue.deadLetters('directory-commands', { limit: 1 })).items[0]).toMatchObject({ messageId: 'bad', deliveryCount: 1, reason: 'body.userId is missing' });
    await sleep(50);
    expect(calls).toBe(1);
  });

  it('on stop, lets a running handler finish within the grace period and completes its message', async () => {
    let finish: (() => void) | undefined;
    const started = pump([queueFunction('imports', false, () => new Promise<void>((resolve) => (finish = resolve)))]);
    await queue.send('imports', [{ messageId: 'm1', body: {} }]);
    await waitFor(() => finish !== undefined);
    let stopped = false;
    const stopping = started.stop(5_000).then(() => (stopped = true));
    await sleep(30);
    expect(stopped).toBe(false);
    finish!();
    await stopping;
    clock.advance(lockDurationMs);
    expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
  });

  it('on stop, releases what is still running after the grace period, uncounted, and takes no new work', async () => {
    const handled: string[] = [];
    const started = pump([
      queueFunction('provisioning', true, async (message) => {
        handled.push(message.messageId);
        await new Promise(() => undefined);
      }),
    ]);
    await queue.send('provisioning', [{ messageId: 'u1-1', sessionId: 'u1', body: {} }]);
    await waitFor(() => handled.length === 1);
    const before = Date.now();
    await started.stop(50);
    expect(Date.now() - before).toBeGreaterThanOrEqual(45);
    await queue.send('provisioning', [{ messageId: 'u2-1', sessionId: 'u2', body: {} }]);
    await sleep(60);
    expect(handled).toEqual(['u1-1']);
    const again = await queue.receive('provisioning', { maxMessages: 10, sessions: true });
    expect(again.map((m) => [m.messageId, m.deliveryCount])).toEqual([
      ['u1-1', 1],
      ['u2-1', 1],
    ]);
    expect(logger.lines).toContainEqual(expect.objectContaining({ level: 'warn', fields: { unfinished: 1 } }));
  });

  it('loses nothing when the process dies mid-handler: after the lock expires the message is delivered again', async () => {
    const firstRun: string[] = [];
    const crashed = pump([
      queueFunction('provisioning', true, async (message) => {
        firstRun.push(message.messageId);
        await new Promise(() => undefined);
      }),
    ]);
    await queue.send('provisioning', [
      { messageId: 'u1-1', sessionId: 'u1', body: { n: 1 } },
      { messageId: 'u1-2', sessionId: 'u1', body: { n: 2 } },
    ]);
    await waitFor(() => firstRun.length === 1);
    db.close();
    await crashed.stop(0);

    db = openDatabase(file);
    const reopened = new SqliteWorkQueue(db, { clock, maxDeliveries, lockDurationMs });
    const secondRun: Array<[string, number]> = [];
    pump([queueFunction('provisioning', true, async (message) => void secondRun.push([message.messageId, message.deliveryCount]))], { consumer: reopened });
    await sleep(60);
    expect(secondRun).toEqual([]);
    clock.advance(lockDurationMs);
    await waitFor(() => secondRun.length === 2);
    expect(secondRun).toEqual([
      ['u1-1', 2],
      ['u1-2', 1],
    ]);
  });

  it('renews the lock of a handler that runs past half the lock duration', async () => {
    let finish: (() => void) | undefined;
    pump([queueFunction('imports', false, () => new Promise<void>((resolve) => (finish = resolve)))]);
    await queue.send('imports', [{ messageId: 'slow', body: {} }]);
    await waitFor(() => finish !== undefined);
    const renewLock = jest.spyOn(queue, 'renewLock');
    clock.advance(lockDurationMs / 2 + 1);
    await waitFor(() => renewLock.mock.results.length === 1);
    await renewLock.mock.results[0]!.value;
    clock.advance(lockDurationMs / 2 + 1);
    expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
    const complete = jest.spyOn(queue, 'complete');
    finish!();
    // Completed, not merely left to a lock that runs out.
    await waitFor(() => complete.mock.results.length === 1);
    await complete.mock.results[0]!.value;
    clock.advance(2 * lockDurationMs);
    expect(await queue.receive('imports', { maxMessages: 10, sessions: false })).toEqual([]);
  });
});
