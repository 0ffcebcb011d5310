import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import { readReconcileRecord, usersDeltaId, type UsersDeltaRecord } from '../../../src/domain/reconcile/reconcile-records';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { ReconcileHarness } from './reconcile-harness';

const withJobTitle = { exportAttributes: ['jobTitle'] as const };

describe('reconcile: users', () => {
  let h: ReconcileHarness;

  beforeEach(async () => {
    h = new ReconcileHarness();
    await h.addConnection({ settings: { exportAttributes: [...withJobTitle.exportAttributes] } });
  });

  it('starts with a full round, selecting the mapped attributes, and nudges nothing while the tenant is in step', async () => {
    await h.provisioned({ jobTitle: 'Engineer' });
    await h.provisioned();
    h.gateway.seed({ userPrincipalName: 'stranger@contoso.com', displayName: 'Stranger' });
    const sent = h.queue.sent.length;

    const report = await h.reconcileOnce();

    expect(report).toMatchObject({ outcome: 'completed', users: { round: 'full', fullRoundReason: 'first_run', reported: 3, bound: 2, drifted: 0, nudged: 0 } });
    expect(h.delta.requests[0]).toEqual({ kind: 'full', select: expect.arrayContaining(['id', 'userPrincipalName', 'givenName', 'surname', 'displayName', 'accountEnabled', 'jobTitle']) });
    expect(h.nudgesSince(sent)).toEqual([]);
    const stored = await readReconcileRecord<UsersDeltaRecord>(h.store, testConnectionId, usersDeltaId);
    expect(stored?.deltaLink).toMatch(/^fake:delta:/);
  });

  it('nudges a bound account whose mapped attribute changed behind our back; the worker corrects it with one update event', async () => {
    const { user, m365UserId } = await h.provisioned({ jobTitle: 'Engineer' });
    await h.reconcileOnce();
    (h.gateway.accounts.get(m365UserId) as Record<string, unknown>).jobTitle = 'Changed in the portal';
    const before = await h.bindingDoc(user.id);
    const sent = h.queue.sent.length;

    const report = await h.reconcileOnce();

    expect(report.users).toMatchObject({ round: 'incremental', reported: 1, bound: 1, drifted: 1, nudged: 1 });
    expect(h.nudgesSince(sent)).toEqual([expect.objectContaining({ userId: user.id, changeSeq: before.changeSeq + 1, reason: 'reconcile' })]);
    await h.drain();
    expect(h.gateway.accounts.get(m365UserId)?.jobTitle).toBe('Engineer');
    expect(await h.events('user_update_provision')).toEqual([expect.objectContaining({ userId: user.id, changedAttributes: ['jobTitle'] })]);

    // The correction shows in the next round as a change, in step with the directory: nothing more to do.
    const echo = await h.reconcileOnce();
    expect(echo.users).toMatchObject({ reported: 1, drifted: 0, nudged: 0 });
  });

  it('leaves unbound accounts and unmapped attributes alone', async () => {
    const { m365UserId } = await h.provisioned({ jobTitle: 'Engineer' });
    const stranger = h.gateway.seed({ userPrincipalName: 'stranger@contoso.com', displayName: 'Stranger', jobTitle: 'Unmanaged' });
    await h.reconcileOnce();
    (h.gateway.accounts.get(stranger) as Record<string, unknown>).displayName = 'Changed stranger';
    // department is not mapped on this connection.
    (h.gateway.accounts.get(m365UserId) as Record<string, unknown>).department = 'Somewhere';
    const sent = h.queue.sent.length;

    const report = await h.reconcileOnce();

    expect(report.users).toMatchObject({ reported: 2, bound: 1, drifted: 0, nudged: 0 });
    expect(h.nudgesSince(sent)).toEqual([]);
    expect(h.gateway.writes()).toHaveLength(1);
  });

  it('nudges a bound account deleted in Microsoft 365; the worker re-creates it with one create event', async () => {
    const { user, m365UserId } = await h.provisioned();
    await h.reconcileOnce();
    h.gateway.accounts.delete(m365UserId);

    const report = await h.reconcileOnce();

    expect(report.users).toMatchObject({ deleted: 1, nudged: 1 });
    await h.drain();
    const binding = await h.bindingDoc(user.id);
    expect(binding.state).toBe('provisioned');
    expect(binding.m365UserId).not.toBe(m365UserId);
    expect(h.gateway.accounts.has(binding.m365UserId as string)).toBe(true);
    expect(await h.events('user_create_provision')).toHaveLength(2);
  });

  it('falls back to a full round when the delta token expired, comparing against the bindings in batches', async () => {
    const users = [];
    for (let i = 0; i < 5; i += 1) users.push(await h.provisioned({ jobTitle: `Title ${i}` }));
    for (let i = 0; i < 5; i += 1) h.gateway.seed({ userPrincipalName: `stranger${i}@contoso.com`, displayName: 'Stranger' });
    await h.reconcileOnce();
    (h.gateway.accounts.get(users[3]?.m365UserId as string) as Record<string, unknown>).surname = 'Drifted';
    h.delta.expireTokens();
    h.queries.clear();

    const report = await h.reconcileOnce();

    expect(report.users).toMatchObject({ round: 'full', fullRoundReason: 'resync_required', reported: 10, bound: 5, drifted: 1, nudged: 1 });
    // Five delta pages, one bindings look-up for all their accounts; then the missing-account pass and the safety net's two.
    expect(report.users?.pages).toBe(5);
    expect(h.queries.get('bindings')).toBe(1 + 1 + 2);
  });

  it('nudges a bound account a full round no longer lists', async () => {
    const { user, m365UserId } = await h.provisioned();
    await h.reconcileOnce();
    h.gateway.accounts.delete(m365UserId);
    h.clock.advance(60_000);

    const report = await h.reconcileOnce({ forceFull: true });

    expect(report.users).toMatchObject({ round: 'full', fullRoundReason: 'forced', missing: 1, nudged: 1 });
    expect(h.nudgesSince(0).at(-1)).toMatchObject({ userId: user.id, reason: 'reconcile' });
  });

  it('skips a binding whose own work is still outstanding', async () => {
    const { user, m365UserId } = await h.provisioned({ jobTitle: 'Engineer' });
    await h.reconcileOnce();
    await h.changeUser(user.id, { jobTitle: 'Lead' });
    (h.gateway.accounts.get(m365UserId) as Record<string, unknown>).jobTitle = 'Changed in the portal';
    const sent = h.queue.sent.length;

    const report = await h.reconcileOnce();

    expect(report.users).toMatchObject({ bound: 1, drifted: 0, nudged: 0 });
    expect(h.nudgesSince(sent)).toEqual([]);
  });

  it('keeps the previous delta link when sending the round\'s nudges fails; the next run reads the changes again and the safety net sends the lost nudge', async () => {
    const { user, m365UserId } = await h.provisioned({ jobTitle: 'Engineer' });
    await h.reconcileOnce();
    const before = await readReconcileRecord<UsersDeltaRecord>(h.store, testConnectionId, usersDeltaId);
    (h.gateway.accounts.get(m365UserId) as Record<string, unknown>).jobTitle = 'Changed in the portal';
    const send = h.queue.send.bind(h.queue);
    h.queue.send = async () => {
      throw new Error('queue unavailable');
    };

    const failed = await h.reconcileOnce();

    expect(failed.outcome).toBe('failed');
    expect(await readReconcileRecord<UsersDeltaRecord>(h.store, testConnectionId, usersDeltaId)).toEqual(before);
    h.queue.send = send;
    const bumped = await h.bindingDoc(user.id);
    h.clock.advance(6 * 60_000);
    const sent = h.queue.sent.length;
    const again = await h.reconcileOnce();
    // The binding has outstanding work now, which the safety net owns.
    expect(again.users).toMatchObject({ round: 'incremental', reported: 1, bound: 1, nudged: 0 });
    expect(again.safetyNet).toMatchObject({ stuck: 1 });
    expect(h.nudgesSince(sent)).toEqual([expect.objectContaining({ userId: user.id, changeSeq: bumped.changeSeq })]);
    await h.drain();
    expect(h.gateway.accounts.get(m365UserId)?.jobTitle).toBe('Engineer');
  });

  it('starts a full round when the connection maps other attributes than its delta link tracks', async () => {
    await h.provisioned({ jobTitle: 'Engineer' });
    await h.reconcileOnce();
    const current = await h.store.get<ConnectionRecord>('connections', testConnectionId, testConnectionId);
    await h.setConnection(testConnectionId, { settings: { ...(current?.data as ConnectionRecord).settings, exportAttributes: ['jobTitle', 'department'] } });

    const report = await h.reconcileOnce();

    expect(report.users).toMatchObject({ round: 'full', fullRoundReason: 'mapping_changed' });
  });
});
