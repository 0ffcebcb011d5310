import type { M365UsersDelta } from '../../../src/domain/reconcile/m365-users-delta';
import { leaseDurationMs, minimumLeaseMs, reconcileAll, reconcileLeaseName, reconcileStatus, startReconcile } from '../../../src/domain/reconcile/reconcile-connection';
import { readReconcileRecord, usersDeltaId } from '../../../src/domain/reconcile/reconcile-records';
import { StoreLease } from '../../../src/domain/reconcile/store-lease';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { ReconcileHarness } from './reconcile-harness';

describe('reconcile: runs and their lease', () => {
  let h: ReconcileHarness;

  beforeEach(async () => {
    h = new ReconcileHarness();
    await h.addConnection();
  });

  it('runs one of two reconciles started at once; the other is told the lease is held', async () => {
    await h.provisioned();
    const [a, b] = await Promise.all([startReconcile(h.reconcile, testConnectionId, { trigger: 'on_demand' }), startReconcile(h.reconcile, testConnectionId, { trigger: 'timer' })]);
    const started = [a, b].filter((r) => r.ok);
    const refused = [a, b].filter((r) => !r.ok);
    expect(started).toHaveLength(1);
    expect(refused).toEqual([{ ok: false, error: expect.objectContaining({ code: 'lease_held', message: expect.stringMatching(/already running.*lease is held until/) }) }]);
    if (!started[0]?.ok) throw new Error('unreachable');
    expect((await started[0].value.finished).outcome).toBe('completed');
    // Requests arriving right after it collapse into it too; a moment later the next one runs.
    expect(await startReconcile(h.reconcile, testConnectionId, { trigger: 'on_demand' })).toMatchObject({ ok: false, error: { code: 'lease_held' } });
    h.clock.advance(minimumLeaseMs);
    expect((await h.reconcileOnce()).outcome).toBe('completed');
  });

  it('leaves the lease of a run that died to expire; nothing runs before', async () => {
    const dead = await StoreLease.acquire({ store: h.store, clock: h.clock }, reconcileLeaseName(testConnectionId), 'a-run-that-died', leaseDurationMs);
    expect(dead.ok).toBe(true);
    expect(await startReconcile(h.reconcile, testConnectionId, { trigger: 'timer' })).toMatchObject({ ok: false, error: { code: 'lease_held', runId: 'a-run-that-died' } });
    h.clock.advance(leaseDurationMs);
    expect((await h.reconcileOnce()).outcome).toBe('completed');
  });

  it('stops without persisting the round when it stalled past its lease and another run took it', async () => {
    await h.provisioned();
    const stalling: M365UsersDelta = {
      page: async (connectionId, from) => {
        h.clock.advance(leaseDurationMs + 1);
        await StoreLease.acquire({ store: h.store, clock: h.clock }, reconcileLeaseName(testConnectionId), 'another-run', leaseDurationMs);
        return h.delta.page(connectionId, from);
      },
    };
    const started = await startReconcile({ ...h.reconcile, usersDelta: stalling }, testConnectionId, { trigger: 'timer' });
    if (!started.ok) throw new Error(started.error.message);
    const report = await started.value.finished;
    expect(report.outcome).toBe('lease_lost');
    expect(await readReconcileRecord(h.store, testConnectionId, usersDeltaId)).toBeUndefined();
  });

  it('skips a connection waiting for re-consent and reports it; the timer reconciles the others', async () => {
    await h.addConnection({ id: 'conn-fabrikam', status: 'reauthorization_required', domains: ['fabrikam.com'] });
    await h.addConnection({ id: 'conn-paused', status: 'sync_paused', domains: ['paused.example'] });
    await h.addConnection({ id: 'conn-gone', status: 'deauthorized', domains: ['gone.example'] });

    expect(await startReconcile(h.reconcile, 'conn-fabrikam', { trigger: 'on_demand' })).toMatchObject({ ok: false, error: { code: 'reauthorization_required' } });
    const report = await reconcileAll(h.reconcile);

    expect(report.skipped).toEqual([{ connectionId: 'conn-fabrikam', reason: 'reauthorization_required' }]);
    expect(report.runs.map((r) => [r.connectionId, r.outcome]).sort()).toEqual([
      ['conn-contoso', 'completed'],
      ['conn-paused', 'completed'],
    ]);
  });

  it('reports a Graph failure of the users round, keeps the delta link, and still runs the safety net', async () => {
    await h.reconcileOnce();
    const link = await readReconcileRecord(h.store, testConnectionId, usersDeltaId);
    h.delta.failNext({ code: 'transient', message: 'Graph 503 serviceNotAvailable' });
    const report = await h.reconcileOnce();
    expect(report).toMatchObject({ outcome: 'failed', error: { code: 'users_transient' }, safetyNet: { stuck: 0 } });
    expect(await readReconcileRecord(h.store, testConnectionId, usersDeltaId)).toEqual(link);
  });

  it('shows the last finished run', async () => {
    const report = await h.reconcileOnce();
    expect(await reconcileStatus(h.reconcile, testConnectionId)).toEqual({ ok: true, value: { lastRun: report } });
    expect(await reconcileStatus(h.reconcile, 'conn-unknown')).toMatchObject({ ok: false, error: { code: 'connection_not_found' } });
  });
});
