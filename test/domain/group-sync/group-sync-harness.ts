import type { DirectoryChange } from '../../../src/domain/directory/directory-hooks';
import type { Group } from '../../../src/domain/directory/group-schemas';
import { createGroupSyncHooks } from '../../../src/domain/group-sync/group-sync-hooks';
import { readGroupSyncRecord, type GroupSyncRecord } from '../../../src/domain/group-sync/group-sync-record';
import { handleGroupSyncMessage } from '../../../src/domain/group-sync/group-sync-worker';
import type { GroupSyncDeps } from '../../../src/domain/group-sync/sync-group';
import { bindGroup, unbindGroup } from '../../../src/domain/provisioning/bind-group';
import type { MessageSettlement } from '../../../src/domain/queue-messages';
import type { ProvisioningEvent } from '../../../src/domain/provisioning/provisioning-events';
import { ProvisioningHarness, silentLogger, testConnectionId, type QueuedMessage } from '../provisioning/provisioning-harness';
import { FakeM365GroupGateway } from './fake-m365-group-gateway';

/**
 * The provisioning harness (store, clock, in-memory queue, fake user gateway, provisioning hooks)
 * with group sync added: a fake group gateway, group sync's hooks after provisioning's, and a drain
 * that hands `group-sync` messages to their handler and the rest to the provisioning worker.
 */
export class GroupSyncHarness {
  readonly p = new ProvisioningHarness();
  readonly groups = new FakeM365GroupGateway();
  readonly deps: GroupSyncDeps;
  readonly settlements: MessageSettlement[] = [];
  private readonly groupHooks;
  private groupCount = 0;

  constructor() {
    this.deps = { store: this.p.store, clock: this.p.clock, logger: silentLogger, sender: this.p.queue, gateways: { forConnection: () => this.groups }, throttle: this.p.throttle, maxAttempts: 5 };
    this.groupHooks = createGroupSyncHooks(this.deps);
  }

  get store() {
    return this.p.store;
  }

  get clock() {
    return this.p.clock;
  }

  /** Announces a directory change to provisioning, then to group sync, as the registry does. */
  async announce(change: DirectoryChange): Promise<void> {
    await this.p.hooks.onChange(change);
    await this.groupHooks.onChange(change);
  }

  async addGroup(name: string, memberIds: readonly string[] = [], description?: string): Promise<Group> {
    this.groupCount += 1;
    const now = this.clock.now().toISOString();
    const group: Group = { id: `group-${this.groupCount}`, name, ...(description === undefined ? {} : { description }), createdAt: now, updatedAt: now };
    await this.store.upsert('groups', group.id, group.id, group);
    for (const userId of memberIds) await this.store.create('memberships', group.id, userId, { groupId: group.id, userId, addedAt: now });
    return group;
  }

  async addMember(groupId: string, userId: string): Promise<void> {
    const now = this.clock.now().toISOString();
    await this.store.create('memberships', groupId, userId, { groupId, userId, addedAt: now });
    await this.announce({ type: 'group.member_added', groupId, userId, occurredAt: now });
  }

  async removeMember(groupId: string, userId: string): Promise<void> {
    await this.store.delete('memberships', groupId, userId);
    await this.announce({ type: 'group.member_removed', groupId, userId, occurredAt: this.clock.now().toISOString() });
  }

  async renameGroup(groupId: string, name: string): Promise<void> {
    const doc = await this.store.get<Group>('groups', groupId, groupId);
    await this.store.upsert('groups', groupId, groupId, { ...(doc?.data as Group), name });
    await this.announce({ type: 'group.updated', groupId, name, changedFields: ['name'], occurredAt: this.clock.now().toISOString() });
  }

  async suspend(userId: string): Promise<void> {
    await this.p.changeUser(userId, { state: 'suspended' }, 'user.suspended');
    const doc = await this.store.get<{ email: string }>('users', userId, userId);
    await this.groupHooks.onChange({ type: 'user.suspended', userId, email: doc?.data.email ?? '', occurredAt: this.clock.now().toISOString() });
  }

  async activate(userId: string): Promise<void> {
    await this.p.changeUser(userId, { state: 'active' }, 'user.activated');
    const doc = await this.store.get<{ email: string }>('users', userId, userId);
    await this.groupHooks.onChange({ type: 'user.activated', userId, email: doc?.data.email ?? '', occurredAt: this.clock.now().toISOString() });
  }

  async bind(groupId: string): Promise<void> {
    const bound = await bindGroup(this.p.deps, testConnectionId, groupId);
    if (!bound.ok) throw new Error(`bind refused: ${bound.error.message}`);
  }

  async unbind(groupId: string): Promise<void> {
    const unbound = await unbindGroup(this.p.deps, testConnectionId, groupId);
    if (!unbound.ok) throw new Error(`unbind refused: ${unbound.error.message}`);
  }

  async record(groupId: string): Promise<GroupSyncRecord | undefined> {
    return (await readGroupSyncRecord(this.store, testConnectionId, groupId))?.data;
  }

  /** The Microsoft 365 group linked to a directory group. */
  async linkedGroup(groupId: string) {
    const id = (await this.record(groupId))?.m365GroupId;
    return id === undefined ? undefined : this.groups.groups.get(id);
  }

  async accountOf(userId: string): Promise<string> {
    return (await this.p.binding(userId))?.m365UserId as string;
  }

  async groupEvents(type?: ProvisioningEvent['type']): Promise<ProvisioningEvent[]> {
    return (await this.p.events(type)).filter((e) => e.type.startsWith('group_'));
  }

  /** Delivers queued messages, earliest first, moving the clock to scheduled ones, until none is left. */
  async drain(maxDeliveries = 500): Promise<number> {
    const queue = this.p.queue;
    let deliveries = 0;
    while (queue.pending.length > 0 && deliveries < maxDeliveries) {
      queue.pending.sort((a, b) => (a.scheduledEnqueueTime?.getTime() ?? 0) - (b.scheduledEnqueueTime?.getTime() ?? 0));
      const message = queue.pending[0] as QueuedMessage;
      const at = message.scheduledEnqueueTime?.getTime() ?? 0;
      if (at > this.clock.ms) this.clock.ms = at;
      if ((message.body as { kind?: string }).kind === 'group-sync') await this.deliverGroupSync(message);
      else await this.p.deliver(message);
      deliveries += 1;
    }
    if (queue.pending.length > 0) throw new Error(`the queue did not drain in ${maxDeliveries} deliveries`);
    return deliveries;
  }

  /** Delivers one group-sync message; a throw leaves it queued for redelivery. */
  async deliverGroupSync(message: QueuedMessage): Promise<MessageSettlement | Error> {
    message.deliveryCount += 1;
    const queue = this.p.queue;
    try {
      const settlement = await handleGroupSyncMessage(this.deps, { messageId: message.messageId, ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }), deliveryCount: message.deliveryCount, enqueuedAt: this.clock.now(), body: message.body });
      queue.pending.splice(queue.pending.indexOf(message), 1);
      this.settlements.push(settlement);
      return settlement;
    } catch (error) {
      if (message.deliveryCount >= this.deps.maxAttempts) {
        queue.pending.splice(queue.pending.indexOf(message), 1);
        queue.deadLetters.push({ message, reason: (error as Error).message });
      }
      return error as Error;
    }
  }
}
