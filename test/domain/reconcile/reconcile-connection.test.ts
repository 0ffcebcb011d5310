import type { M365UsersDelta } from '../../../src/domain/reconcile/m365-users-delta';
import { handleReconcileMessage, leaseDurationMs, minimumLeaseMs, queueReconcileAll, reconcileLeaseName, reconcileStatus, requestReconcile, startReconcile, type ReconcileMessage } from '../../../src/domain/reconcile/reconcile-connection';
import { lastRunId } from '../../../src/domain/reconcile/reconcile-records';
import { readReconcileRecord, usersDeltaId } from '../../../src/domain/reconcile/reconcile-records';
import { leaseHolder, StoreLease } from '../../../src/domain/reconcile/store-lease';
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

  /** The reconcile messages waiting in the queue, in the order sent. */
  const queuedRuns = () => h.queue.pending.filter((m) => m.messageId.startsWith('reconcile:'));

  it('skips a connection waiting for re-consent and reports it; the timer queues one run per other connection, once per minute', async () => {
    await h.addConnection({ id: 'conn-fabrikam', status: 'reauthorization_required', domains: ['fabrikam.com'] });
    await h.addConnection({ id: 'conn-paused', status: 'sync_paused', domains: ['paused.example'] });
    await h.addConnection({ id: 'conn-gone', status: 'deauthorized', domains: ['gone.example'] });

    expect(await startReconcile(h.reconcile, 'conn-fabrikam', { trigger: 'on_demand' })).toMatchObject({ ok: false, error: { code: 'reauthorization_required' } });
    const report = await queueReconcileAll(h.reconcile);
    expect(report.skipped).toEqual([{ connectionId: 'conn-fabrikam', reason: 'reauthorization_required' }]);
    expect([...report.queued].sort()).toEqual(['conn-contoso', 'conn-paused']);
    // A timer firing twice in the same minute queues nothing more.
    await queueReconcileAll(h.reconcile);
    expect(queuedRuns()).toHaveLength(2);

    const settled = await Promise.all(queuedRuns().map((m) => handleReconcileMessage(h.reconcile, m.body)));
    expect(settled.map((s) => s.kind)).toEqual(['complete', 'complete']);
    for (const connectionId of ['conn-contoso', 'conn-paused']) {
      expect(await readReconcileRecord(h.store, connectionId, lastRunId)).toMatchObject({ trigger: 'timer', outcome: 'completed' });
    }
  });

  it('queues an on-demand run under the lease its request took: a second request is refused, the run uses that lease, a redelivery does nothing', async () => {
    const requested = await requestReconcile(h.reconcile, testConnectionId, { forceFull: true });
    if (!requested.ok) throw new Error(requested.error.message);
    expect(await requestReconcile(h.reconcile, testConnectionId)).toMatchObject({ ok: false, error: { code: 'lease_held', runId: requested.value.runId } });
    expect(await leaseHolder(h.reconcile, reconcileLeaseName(testConnectionId))).toMatchObject({ owner: requested.value.runId });
    const [message] = queuedRuns();
    expect(message?.body).toEqual({ connectionId: testConnectionId, runId: requested.value.runId, trigger: 'on_demand', forceFull: true });
    // Nothing has run yet: the HTTP request only queued it.
    expect(await reconcileStatus(h.reconcile, testConnectionId)).toMatchObject({ ok: true, value: { running: { runId: requested.value.runId } } });

    expect(await handleReconcileMessage(h.reconcile, message?.body)).toEqual({ kind: 'complete', detail: `run ${requested.value.runId}: completed` });
    expect(await readReconcileRecord(h.store, testConnectionId, lastRunId)).toMatchObject({ runId: requested.value.runId, trigger: 'on_demand', outcome: 'completed', users: { round: 'full' } });
    expect(await handleReconcileMessage(h.reconcile, message?.body)).toEqual({ kind: 'complete', detail: `run ${requested.value.runId} finished already (completed)` });
  });

  it("does not run a queued run whose lease another run took after the request's expired", async () => {
    const requested = await requestReconcile(h.reconcile, testConnectionId);
    if (!requested.ok) throw new Error(requested.error.message);
    h.clock.advance(leaseDurationMs);
    const other = await startReconcile(h.reconcile, testConnectionId, { trigger: 'timer' });
    if (!other.ok) throw new Error(other.error.message);
    const settled = await handleReconcileMessage(h.reconcile, queuedRuns()[0]?.body);
    expect(settled).toMatchObject({ kind: 'complete', detail: expect.stringContaining(`already running (run ${other.value.runId})`) });
    expect((await other.value.finished).outcome).toBe('completed');
    expect(await readReconcileRecord(h.store, testConnectionId, lastRunId)).toMatchObject({ runId: other.value.runId });
  });

  it('frees the lease of a queued run whose connection was de-authorized meanwhile', async () => {
    const requested = await requestReconcile(h.reconcile, testConnectionId);
    if (!requested.ok) throw new Error(requested.error.message);
    await h.addConnection({ status: 'deauthorized' });
    expect(await handleReconcileMessage(h.reconcile, queuedRuns()[0]?.body)).toMatchObject({ kind: 'complete', detail: expect.stringContaining('nothing to reconcile') });
    expect(await leaseHolder(h.reconcile, reconcileLeaseName(testConnectionId))).toBeUndefined();
  });

  it('frees the lease when the run cannot be queued, and dead-letters a message that is not a run', async () => {
    const failing = { ...h.reconcile, sender: { send: async () => Promise.reject(new Error('queue down')), ping: async () => undefined, close: async () => undefined } };
    await expect(requestReconcile(failing, testConnectionId)).rejects.toThrow('queue down');
    expect(await leaseHolder(h.reconcile, reconcileLeaseName(testConnectionId))).toBeUndefined();
    const notARun: Partial<ReconcileMessage> = { connectionId: testConnectionId };
    expect(await handleReconcileMessage(h.reconcile, notARun)).toEqual({ kind: 'dead_letter', reason: expect.stringMatching(/^not a reconcile message: runId/) });
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
