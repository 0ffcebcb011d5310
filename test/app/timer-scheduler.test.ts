import { createLogger } from '../../src/adapters/logging/pino-logger';
import { startTimers } from '../../src/app/host/timer-scheduler';

describe('startTimers', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-01-01T00:00:00.500Z') }));
  afterEach(() => jest.useRealTimers());

  it('fires on the NCRONTAB schedule and never overlaps a running invocation', async () => {
    const starts: string[] = [];
    let release: (() => void) | undefined;
    const scheduler = startTimers(
      [{ kind: 'timer', name: 'every-second', scheduleSetting: 'EVERY_SECOND_SCHEDULE', schedule: '* * * * * *', handler: () => { starts.push(new Date().toISOString()); return new Promise<void>((done) => (release = done)); } }],
      createLogger({ level: 'silent' }),
    );
    await jest.advanceTimersByTimeAsync(600);
    expect(starts).toEqual(['2026-01-01T00:00:01.000Z']);
    await jest.advanceTimersByTimeAsync(3_000); // still running: no second start
    expect(starts).toHaveLength(1);
    release?.();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(starts).toHaveLength(2);
    release?.();
    await scheduler.stop(100);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(starts).toHaveLength(2);
  });

  it('runs a 15-minute schedule at quarter hours only', async () => {
    const starts: string[] = [];
    const scheduler = startTimers([{ kind: 'timer', name: 'reconcile', scheduleSetting: 'RECONCILE_SCHEDULE', schedule: '0 */15 * * * *', handler: async () => void starts.push(new Date().toISOString()) }], createLogger({ level: 'silent' }));
    await jest.advanceTimersByTimeAsync(31 * 60 * 1000);
    expect(starts).toEqual(['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z']);
    await scheduler.stop(100);
  });
});
