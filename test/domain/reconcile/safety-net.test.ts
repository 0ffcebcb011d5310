import { bindUser } from '../../../src/domain/provisioning/bind-user';
import { mutateUserBinding } from '../../../src/domain/provisioning/binding-records';
import { cancelledDeactivationCode } from '../../../src/domain/reconcile/deactivation-guard';
import { retryDelayMs } from '../../../src/domain/reconcile/safety-net';
import { testConnectionId } from '../provisioning/provisioning-harness';
import { ReconcileHarness } from './reconcile-harness';

const refused = { kind: 'permanent', code: 'Request_BadRequest', message: 'Property mailNickname is invalid.' } as const;
const minute = 60_000;

describe('reconcile: safety net', () => {
  let h: ReconcileHarness;

  beforeEach(async () => {
    h = new ReconcileHarness();
    await h.addConnection();
  });

  async function failingBinding(): Promise<string> {
    const user = await h.addUser();
    h.gateway.failNext('create', refused);
    await bindUser(h.deps, testConnectionId, user.id);
    await h.drain();
    expect((await h.bindingDoc(user.id)).state).toBe('error');
    return user.id;
  }

  it('waits 1 minute, doubling, at most 6 hours between retries', () => {
    expect([0, 1, 2, 3].map(retryDelayMs)).toEqual([minute, 2 * minute, 4 * minute, 8 * minute]);
    expect(retryDelayMs(9)).toBe(6 * 60 * minute);
    expect(retryDelayMs(500)).toBe(6 * 60 * minute);
  });

  it('retries a binding in error with exponential backoff', async () => {
    const userId = await failingBinding();

    h.clock.advance(30_000);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 0, backingOff: 1 });

    h.clock.advance(31_000);
    const before = await h.bindingDoc(userId);
    let sent = h.queue.sent.length;
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 1, backingOff: 0 });
    expect(h.nudgesSince(sent)).toEqual([expect.objectContaining({ userId, changeSeq: before.changeSeq + 1, reason: 'retry' })]);
    h.gateway.failNext('create', refused);
    await h.drain();

    // The second retry waits 2 minutes after the failure of the first.
    h.clock.advance(minute + 1_000);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 0, backingOff: 1 });
    h.clock.advance(minute);
    sent = h.queue.sent.length;
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 1 });
    await h.drain();
    expect((await h.bindingDoc(userId)).state).toBe('provisioned');
    expect(h.nudgesSince(sent)).toHaveLength(1);
  });

  it('starts the backoff over when the user changes', async () => {
    const userId = await failingBinding();
    for (let i = 0; i < 3; i += 1) {
      h.clock.advance(retryDelayMs(i) + 1_000);
      expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 1 });
      h.gateway.failNext('create', refused);
      await h.drain();
    }
    // Four minutes wait now... until the user changes, which fails again.
    h.gateway.failNext('create', refused);
    await h.changeUser(userId, { lastName: 'Changed' });
    await h.drain();
    h.clock.advance(minute + 1_000);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 1 });
  });

  it('sends again the nudge of work left pending for more than a few minutes, under the same change number', async () => {
    const user = await h.addUser();
    const send = h.queue.send.bind(h.queue);
    h.queue.send = async () => {
      throw new Error('queue unavailable');
    };
    await expect(bindUser(h.deps, testConnectionId, user.id)).rejects.toThrow('queue unavailable');
    h.queue.send = send;
    const binding = await h.bindingDoc(user.id);
    expect(binding).toMatchObject({ state: 'pending', changeSeq: 1, handledChangeSeq: 0 });

    h.clock.advance(4 * minute);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ stuck: 0 });
    h.clock.advance(2 * minute);
    const sent = h.queue.sent.length;
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ stuck: 1 });
    expect(h.nudgesSince(sent)).toEqual([expect.objectContaining({ userId: user.id, changeSeq: 1 })]);
    await h.drain();
    expect((await h.bindingDoc(user.id)).state).toBe('provisioned');
  });

  it('sends again the nudge of a change whose message was lost after the store write', async () => {
    const { user } = await h.provisioned();
    const send = h.queue.send.bind(h.queue);
    h.queue.send = async () => {
      throw new Error('queue unavailable');
    };
    // The directory hook logs the failure; the change is committed with its nudge lost.
    await h.changeUser(user.id, { lastName: 'Renamed' });
    h.queue.send = send;
    const binding = await h.bindingDoc(user.id);
    expect(binding.changeSeq).toBeGreaterThan(binding.handledChangeSeq);

    h.clock.advance(6 * minute);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ stuck: 1 });
    await h.drain();
    expect(h.gateway.byUpn(user.email)?.surname).toBe('Renamed');
    // Checked once: the next run looks only at bindings updated since.
    h.clock.advance(6 * minute);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ stuck: 0 });
  });

  it('leaves a binding whose deactivation an admin cancelled alone', async () => {
    const { user } = await h.provisioned();
    const at = h.clock.now().toISOString();
    await mutateUserBinding(h.store, testConnectionId, user.id, (b) => (b === undefined ? undefined : { ...b, state: 'error', lastError: { code: cancelledDeactivationCode, message: 'cancelled', at } }));
    h.clock.advance(7 * 60 * minute);
    expect((await h.reconcileOnce()).safetyNet).toMatchObject({ retried: 0, cancelled: 1 });
  });
});
