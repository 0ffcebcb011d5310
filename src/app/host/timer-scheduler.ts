import { randomUUID } from 'node:crypto';
import { InvocationContext } from '@azure/functions';
import { CronExpressionParser } from 'cron-parser';
import type { Logger } from '../../domain/ports/logger';
import type { TimerFunctionDefinition } from '../functions/definition';
import { tracedTimerHandler } from '../functions/traced';

export interface TimerScheduler {
  /** Stop scheduling and wait for a running timer up to graceMs. */
  stop(graceMs: number): Promise<void>;
}

/** Fires each timer function on its NCRONTAB schedule (UTC); a run never overlaps the previous one. */
export function startTimers(definitions: readonly TimerFunctionDefinition[], logger: Logger, now: () => Date = () => new Date()): TimerScheduler {
  let stopped = false;
  const handles = new Map<string, NodeJS.Timeout>();
  const running = new Set<Promise<void>>();

  const schedule = (definition: TimerFunctionDefinition): void => {
    if (stopped) return;
    const next = CronExpressionParser.parse(definition.schedule, { currentDate: now(), tz: 'UTC' }).next().toDate();
    // setTimeout's delay is capped at 2^31-1 ms; reschedule rather than overflow for far-off runs.
    const delayMs = Math.min(Math.max(0, next.getTime() - now().getTime()), 2 ** 31 - 1);
    const handle = setTimeout(() => {
      if (stopped) return;
      if (next.getTime() > now().getTime() + 5) return schedule(definition);
      const invocationId = randomUUID();
      const context = new InvocationContext({ invocationId, functionName: definition.name, logHandler: (_level, ...args) => logger.debug(args.map(String).join(' '), { invocationId }) });
      const run = tracedTimerHandler(definition)(context)
        .catch((error: unknown) => logger.error('timer function failed', { function: definition.name, invocationId, error }))
        .finally(() => {
          running.delete(run);
          schedule(definition);
        });
      running.add(run);
    }, delayMs);
    handle.unref();
    handles.set(definition.name, handle);
  };

  definitions.forEach(schedule);

  return {
    async stop(graceMs) {
      stopped = true;
      handles.forEach((handle) => clearTimeout(handle));
      if (running.size > 0) await Promise.race([Promise.allSettled([...running]), new Promise((done) => setTimeout(done, graceMs).unref())]);
    },
  };
}
