import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { InvocationContext } from '@azure/functions';
import type { Clock } from '../../domain/ports/clock';
import { systemClock } from '../../domain/ports/clock';
import { PoisonMessageError } from '../../domain/errors';
import type { Logger } from '../../domain/ports/logger';
import type { DeliveredMessage } from '../../domain/ports/work-queue';
import type { QueueFunctionDefinition } from '../functions/definition';
import type { LockedMessage, QueueConsumer } from './queue-consumer';
import { tracedQueueHandler } from '../functions/traced';

export interface QueuePumpOptions {
  readonly consumer: QueueConsumer;
  readonly definitions: readonly QueueFunctionDefinition[];
  /** Handlers running at once per queue (on a session queue: sessions handled at once). */
  readonly concurrency: number;
  readonly logger: Logger;
  /** How often to look for work nobody announced: scheduled messages, expired locks, other processes. Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** The clock the consumer stamps lock expiries with; locks are renewed at half their span. */
  readonly clock?: Clock;
  readonly makeContext?: (definition: QueueFunctionDefinition, message: DeliveredMessage) => InvocationContext;
}

export interface QueuePump {
  /** Stops taking work, waits up to `graceMs` for running handlers, then releases what is unfinished for redelivery. */
  stop(graceMs: number): Promise<void>;
}

interface Lane {
  readonly definition: QueueFunctionDefinition;
  /** The definition's handler in its consumer span. */
  readonly handler: QueueFunctionDefinition['handler'];
  running: number;
  filling: Promise<void> | undefined;
  again: boolean;
  wakeQueued: boolean;
}

interface Invocation {
  readonly message: LockedMessage;
  lockedAt: number;
  lockedUntil: number;
  renewing: boolean;
  /** stop() gave the message back: whatever the handler does now, it must not settle it. */
  released: boolean;
  done: Promise<void>;
}

type HandlerOutcome = { readonly kind: 'completed' } | { readonly kind: 'poison'; readonly reason: string } | { readonly kind: 'failed'; readonly reason: string };

/**
 * Pumps the embedded queue into the queue functions the way the Functions host pumps Service Bus:
 * success completes, a throw abandons (the consumer dead-letters after max deliveries), and
 * `PoisonMessageError` dead-letters at once. One handler per session at a time comes from the
 * consumer, which never hands out a message of a locked session.
 */
export function startQueuePump(options: QueuePumpOptions): QueuePump {
  const { consumer, concurrency, logger } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('concurrency must be a positive integer');
  const clock = options.clock ?? systemClock;
  const makeContext = options.makeContext ?? contextFactory(logger);
  const lanes = new Map<string, Lane>();
  for (const definition of options.definitions) {
    if (lanes.has(definition.queueName)) throw new TypeError(`queue ${definition.queueName} has more than one function`);
    lanes.set(definition.queueName, { definition, handler: tracedQueueHandler(definition), running: 0, filling: undefined, again: false, wakeQueued: false });
  }
  const inFlight = new Set<Invocation>();
  let stopping = false;
  let stopped: Promise<void> | undefined;

  const fill = async (lane: Lane): Promise<void> => {
    const { definition } = lane;
    try {
      do {
        lane.again = false;
        const free = concurrency - lane.running;
        if (free <= 0 || stopping) return;
        const messages = await consumer.receive(definition.queueName, { maxMessages: free, sessions: definition.sessions });
        // Once stopping, received messages stay locked here and stop() releases them.
        if (stopping) return;
        for (const message of messages) start(lane, message);
        if (messages.length === free) lane.again = true;
      } while (lane.again);
    } catch (error) {
      logger.error('queue receive failed', { queue: definition.queueName, error: describe(error) });
    }
  };

  const runFill = (lane: Lane): void => {
    lane.filling = fill(lane).finally(() => {
      lane.filling = undefined;
      // A wake that arrived after the loop's last check would otherwise wait for the next poll.
      if (lane.again) wake(lane);
    });
  };

  const wake = (lane: Lane): void => {
    if (stopping) return;
    if (lane.filling !== undefined) {
      lane.again = true;
      return;
    }
    if (lane.wakeQueued) return;
    // Coalesces a burst of sends into one receive.
    lane.wakeQueued = true;
    setImmediate(() => {
      lane.wakeQueued = false;
      if (stopping) return;
      if (lane.filling !== undefined) lane.again = true;
      else runFill(lane);
    });
  };

  const start = (lane: Lane, message: LockedMessage): void => {
    lane.running += 1;
    const now = clock.now().getTime();
    const invocation: Invocation = { message, lockedAt: now, lockedUntil: message.lockedUntil.getTime(), renewing: false, released: false, done: Promise.resolve() };
    inFlight.add(invocation);
    invocation.done = handle(lane, invocation).finally(() => {
      inFlight.delete(invocation);
      lane.running -= 1;
      wake(lane);
    });
  };

  const handle = async (lane: Lane, invocation: Invocation): Promise<void> => {
    const { definition } = lane;
    const { message } = invocation;
    const delivered: DeliveredMessage = {
      messageId: message.messageId,
      ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
      deliveryCount: message.deliveryCount,
      enqueuedAt: message.enqueuedAt,
      body: message.body,
      ...(message.traceContext === undefined ? {} : { traceContext: message.traceContext }),
    };
    let context: InvocationContext | undefined;
    let outcome: HandlerOutcome;
    try {
      context = makeContext(definition, delivered);
      await lane.handler(delivered, context);
      outcome = { kind: 'completed' };
    } catch (error) {
      outcome = error instanceof PoisonMessageError ? { kind: 'poison', reason: error.reason } : { kind: 'failed', reason: describe(error) };
    }
    if (invocation.released) return;
    const log = (): Logger =>
      logger.child({
        functionName: definition.name,
        ...(context === undefined ? {} : { invocationId: context.invocationId }),
        queue: message.queue,
        messageId: message.messageId,
        ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
        deliveryCount: message.deliveryCount,
      });
    try {
      switch (outcome.kind) {
        case 'completed':
          await consumer.complete(message);
          break;
        case 'poison':
          await consumer.deadLetter(message, outcome.reason);
          log().warn('poison message dead-lettered', { reason: outcome.reason });
          break;
        case 'failed': {
          const settled = await consumer.abandon(message, outcome.reason);
          if (settled === 'dead_lettered') log().error('message dead-lettered after its last allowed delivery failed', { error: outcome.reason });
          else log().warn('handler failed; message abandoned for redelivery', { error: outcome.reason });
          break;
        }
      }
    } catch (error) {
      log().warn('could not settle message; it will be delivered again', { outcome: outcome.kind, error: describe(error) });
    }
  };

  const renewLocks = (): void => {
    const renewLock = consumer.renewLock?.bind(consumer);
    if (renewLock === undefined) return;
    const now = clock.now().getTime();
    for (const invocation of inFlight) {
      if (invocation.renewing || invocation.released) continue;
      if (now < invocation.lockedAt + (invocation.lockedUntil - invocation.lockedAt) / 2) continue;
      invocation.renewing = true;
      renewLock(invocation.message).then(
        (lockedUntil) => {
          invocation.lockedAt = now;
          invocation.lockedUntil = lockedUntil.getTime();
          invocation.renewing = false;
        },
        // Leaves `renewing` set: a lost lock cannot be renewed, and settling will report it.
        (error: unknown) => logger.warn('could not renew message lock', { queue: invocation.message.queue, messageId: invocation.message.messageId, error: describe(error) }),
      );
    }
  };

  const unsubscribe = consumer.onAvailable?.((queue) => {
    const lane = lanes.get(queue);
    if (lane !== undefined) wake(lane);
  });
  const poll = setInterval(() => {
    for (const lane of lanes.values()) wake(lane);
    renewLocks();
  }, options.pollIntervalMs ?? 250);
  for (const lane of lanes.values()) wake(lane);

  const stop = async (graceMs: number): Promise<void> => {
    stopping = true;
    clearInterval(poll);
    unsubscribe?.();
    await Promise.all([...lanes.values()].map((lane) => lane.filling));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...inFlight].map((invocation) => invocation.done)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    const unfinished = inFlight.size;
    for (const invocation of inFlight) invocation.released = true;
    try {
      await consumer.releaseAll();
    } catch (error) {
      logger.error('could not release messages on stop; they come back when their locks expire', { error: describe(error) });
    }
    if (unfinished > 0) logger.warn('stopped with handlers still running; their messages were released for redelivery', { unfinished });
  };

  return {
    stop(graceMs: number): Promise<void> {
      stopped ??= stop(graceMs);
      return stopped;
    },
  };
}

const logMethods = {
  trace: 'debug',
  debug: 'debug',
  information: 'info',
  warning: 'warn',
  error: 'error',
  critical: 'error',
} as const;

/** Invocation contexts whose log calls go to the service logger, tagged with the invocation's ids. */
function contextFactory(logger: Logger): (definition: QueueFunctionDefinition, message: DeliveredMessage) => InvocationContext {
  return (definition, message) => {
    const invocationId = randomUUID();
    let log: Logger | undefined;
    return new InvocationContext({
      invocationId,
      functionName: definition.name,
      triggerMetadata: {
        messageId: message.messageId,
        sessionId: message.sessionId,
        deliveryCount: message.deliveryCount,
        enqueuedTimeUtc: message.enqueuedAt.toISOString(),
      },
      logHandler: (level, ...args) => {
        if (level === 'none') return;
        log ??= logger.child({
          functionName: definition.name,
          invocationId,
          messageId: message.messageId,
          ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }),
        });
        log[logMethods[level]](format(...args));
      },
    });
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
