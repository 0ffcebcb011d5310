import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import { activityState, createConnectionActivity, mergeActivity } from '../../../src/domain/connections/connection-activity';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import { ManualClock } from '../../support/manual-clock';
import { RecordingLogger } from './connections-harness';

describe('connection activity', () => {
  let clock: ManualClock;
  let store: DocumentStore;
  let writes: number;

  beforeEach(() => {
    clock = new ManualClock(Date.parse('2026-03-01T10:00:00.000Z'));
    const sqlite = new SqliteDocumentStore(openDatabase(':memory:'), { clock });
    writes = 0;
    // Counts the writes the recorder makes, the cost that must stay bounded.
    store = new Proxy(sqlite, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (name === 'create' || name === 'replace' || name === 'upsert') writes += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  });

  const recorder = () => createConnectionActivity({ store, clock, logger: new RecordingLogger() });

  /** Lets writes started without waiting (record returns at once) reach the store. */
  const drain = () => new Promise((resolve) => setTimeout(resolve, 20));

  it('writes a record at once, then at most once a minute, folding what happened meanwhile into one write', async () => {
    const activity = recorder();
    for (let i = 0; i < 50; i += 1) activity.record('c1', 'graph', { ok: true });
    await drain();
    expect(writes).toBe(1);
    expect((await activity.read(['c1'])).get('c1')?.graph).toEqual({ connectionId: 'c1', kind: 'graph', lastSuccessAt: '2026-03-01T10:00:00.000Z' });

    clock.advance(30_000);
    activity.record('c1', 'graph', { ok: true });
    activity.record('c1', 'graph', { ok: false, code: 'http_503', message: 'Graph answered 503' });
    clock.advance(1_000);
    activity.record('c1', 'graph', { ok: false, code: 'http_503', message: 'Graph answered 503 again' });
    await drain();
    expect(writes).toBe(1);
    // The rest of the minute's outcomes go in one write (flush: what the timer or a shutdown does).
    await activity.flush();
    expect(writes).toBe(2);
    const failing = (await activity.read(['c1'])).get('c1')?.graph;
    expect(activityState(failing)).toBe('failing');
    expect(failing).toMatchObject({ lastSuccessAt: '2026-03-01T10:00:30.000Z', lastFailureAt: '2026-03-01T10:00:31.000Z', lastFailure: { code: 'http_503', message: 'Graph answered 503 again' } });

    clock.advance(60_000);
    activity.record('c1', 'graph', { ok: true });
    await drain();
    expect(writes).toBe(3);
    expect(activityState((await activity.read(['c1'])).get('c1')?.graph)).toBe('ok');
  });

  it('writes the folded outcomes by itself once the interval is over', async () => {
    const activity = createConnectionActivity({ store, clock, logger: new RecordingLogger(), minWriteIntervalMs: 50 });
    activity.record('c1', 'tokenRefresh', { ok: true });
    clock.advance(10);
    activity.record('c1', 'tokenRefresh', { ok: false, code: 'AADSTS50173', message: 'revoked' });
    await drain();
    expect(activityState((await activity.read(['c1'])).get('c1')?.tokenRefresh)).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(writes).toBe(2);
    expect(activityState((await activity.read(['c1'])).get('c1')?.tokenRefresh)).toBe('failing');
  });

  it('keeps each kind and connection apart', async () => {
    const activity = recorder();
    activity.record('c1', 'graph', { ok: true });
    activity.record('c1', 'tokenRefresh', { ok: false, code: 'AADSTS50173', message: 'revoked' });
    activity.record('c2', 'graph', { ok: true });
    await activity.flush();
    const read = await activity.read(['c1', 'c2', 'c3']);
    expect(activityState(read.get('c1')?.graph)).toBe('ok');
    expect(activityState(read.get('c1')?.tokenRefresh)).toBe('failing');
    expect(activityState(read.get('c2')?.tokenRefresh)).toBe('unknown');
    expect(read.has('c3')).toBe(false);
  });

  it('merges what several instances write into one record, whatever order they write in', async () => {
    const a = recorder();
    const b = recorder();
    a.record('c1', 'graph', { ok: true });
    await a.flush();
    clock.advance(5_000);
    b.record('c1', 'graph', { ok: false, code: 'no_answer', message: 'socket hang up' });
    await b.flush();
    // Instance a learns nothing from b, yet its next success (in its own minute) is not held back by b's failure...
    clock.advance(70_000);
    a.record('c1', 'graph', { ok: true });
    await a.flush();
    const merged = (await a.read(['c1'])).get('c1')?.graph;
    expect(merged).toMatchObject({ lastSuccessAt: '2026-03-01T10:01:15.000Z', lastFailureAt: '2026-03-01T10:00:05.000Z', lastFailure: { code: 'no_answer' } });
    expect(activityState(merged)).toBe('ok');
    // ...and an older outcome written late never moves a timestamp back.
    expect(mergeActivity(merged!, '2026-03-01T10:00:00.000Z', { ok: true })).toBe(merged);
    expect(mergeActivity(merged!, '2026-03-01T10:00:00.000Z', { ok: false, code: 'x', message: 'late' })).toBe(merged);
  });

  it('logs a failure to write and tries again at the next outcome, never failing the caller', async () => {
    const logger = new RecordingLogger();
    let broken = true;
    const flaky: DocumentStore = new Proxy(store, {
      get(target, name, receiver) {
        if (name === 'get' && broken) return async () => Promise.reject(new Error('store unavailable'));
        return Reflect.get(target, name, receiver) as unknown;
      },
    });
    const activity = createConnectionActivity({ store: flaky, clock, logger });
    expect(() => activity.record('c1', 'graph', { ok: true })).not.toThrow();
    await activity.flush();
    expect(logger.lines).toEqual([expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ connectionId: 'c1', kind: 'graph', error: 'store unavailable' }) })]);
    broken = false;
    activity.record('c1', 'graph', { ok: true });
    await activity.flush();
    expect(activityState((await activity.read(['c1'])).get('c1')?.graph)).toBe('ok');
  });
});
