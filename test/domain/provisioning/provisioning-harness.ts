import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import { connectionSettingsSchema, type ConnectionRecord, type ConnectionSettings } from '../../../src/domain/connections/connection';
import type { ConnectionStatus } from '../../../src/domain/connections/connection-state';
import type { DirectoryChange, DirectoryHooks } from '../../../src/domain/directory/directory-hooks';
import type { UserRecord } from '../../../src/domain/directory/user-records';
import type { Clock } from '../../../src/domain/ports/clock';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import type { Logger } from '../../../src/domain/ports/logger';
import type { SecretStore } from '../../../src/domain/ports/secret-store';
import type { MessageSender, OutgoingMessage, QueueName } from '../../../src/domain/ports/work-queue';
import type { UserBindingRecord } from '../../../src/domain/provisioning/binding';
import type { Notice, NoticeSender } from '../../../src/domain/provisioning/binding-notice';
import { ConnectionThrottle } from '../../../src/domain/provisioning/connection-throttle';
import { createProvisioningHooks } from '../../../src/domain/provisioning/provisioning-hooks';
import { handleProvisioningMessage, type ProvisioningWorkerDeps } from '../../../src/domain/provisioning/provisioning-worker';
import type { MessageSettlement } from '../../../src/domain/queue-messages';
import type { ProvisioningEvent } from '../../../src/domain/provisioning/provisioning-events';
import { FakeM365UserGateway } from './fake-m365-user-gateway';
import { ManualClock } from '../../support/manual-clock';


export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

class MemorySecrets implements SecretStore {
  readonly values = new Map<string, { value: string; expiresAtMs?: number }>();
  constructor(private readonly clock: Clock) {}
  async get(name: string): Promise<string | undefined> {
    const entry = this.values.get(name);
    if (entry === undefined || (entry.expiresAtMs !== undefined && entry.expiresAtMs <= this.clock.now().getTime())) return undefined;
    return entry.value;
  }
  async set(name: string, value: string, options?: { expiresAt?: Date }): Promise<void> {
    this.values.set(name, { value, ...(options?.expiresAt === undefined ? {} : { expiresAtMs: options.expiresAt.getTime() }) });
  }
  async delete(name: string): Promise<void> {
    this.values.delete(name);
  }
  async ping(): Promise<void> {}
}

export interface QueuedMessage extends OutgoingMessage {
  deliveryCount: number;
}

/** The `provisioning` queue in memory: id de-duplication, scheduled delivery, delivery counts. */
class MemoryQueue implements MessageSender {
  readonly pending: QueuedMessage[] = [];
  readonly sent: OutgoingMessage[] = [];
  readonly deadLetters: { message: QueuedMessage; reason: string }[] = [];
  private readonly seen = new Set<string>();
  async send(_queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) {
      this.sent.push(message);
      if (this.seen.has(message.messageId)) continue;
      this.seen.add(message.messageId);
      this.pending.push({ ...message, deliveryCount: 0 });
    }
  }
  /** Drops what is pending as if its sends had failed: the same message sent again is delivered. */
  loseAll(): void {
    for (const message of this.pending.splice(0)) this.seen.delete(message.messageId);
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

export const testConnectionId = 'conn-contoso';

export interface ConnectionOptions {
  readonly id?: string;
  readonly status?: ConnectionStatus;
  readonly domains?: string[];
  readonly settings?: Partial<ConnectionSettings>;
}

/** A consented connection as the tests' store holds it: active, claiming contoso.com, default settings unless told. */
export function testConnection(id: string, options: ConnectionOptions, at: Date): ConnectionRecord {
  const now = at.toISOString();
  return {
    id,
    name: id,
    status: options.status ?? 'active',
    domains: options.domains ?? ['contoso.com'],
    settings: { ...connectionSettingsSchema.parse({}), ...options.settings },
    tenantId: `tenant-${id}`,
    createdAt: now,
    updatedAt: now,
  };
}

export async function writeConnection(store: DocumentStore, record: ConnectionRecord): Promise<ConnectionRecord> {
  await store.upsert('connections', record.id, record.id, record);
  return record;
}

/** Changes fields of a stored connection as a test needs them, whatever the use cases allow. */
export async function changeConnection(store: DocumentStore, id: string, change: Partial<ConnectionRecord>): Promise<void> {
  const doc = await store.get<ConnectionRecord>('connections', id, id);
  await store.upsert('connections', id, id, { ...(doc?.data as ConnectionRecord), ...change });
}

export class ProvisioningHarness {
  readonly clock = new ManualClock(Date.parse('2025-03-01T09:00:00.000Z'));
  readonly store = new SqliteDocumentStore(openDatabase(':memory:'), { clock: this.clock });
  readonly secrets = new MemorySecrets(this.clock);
  readonly queue = new MemoryQueue();
  readonly notices: Notice[] = [];
  readonly gateway = new FakeM365UserGateway();
  readonly throttle = new ConnectionThrottle();
  readonly deps: ProvisioningWorkerDeps;
  readonly hooks: DirectoryHooks;
  readonly settlements: MessageSettlement[] = [];
  private userCount = 0;

  constructor(options: { maxAttempts?: number } = {}) {
    const notices: NoticeSender = { send: async (notice) => void this.notices.push(notice) };
    this.deps = {
      store: this.store,
      clock: this.clock,
      logger: silentLogger,
      sender: this.queue,
      secrets: this.secrets,
      notices,
      gateways: { forConnection: () => this.gateway },
      throttle: this.throttle,
      maxAttempts: options.maxAttempts ?? 5,
    };
    this.hooks = createProvisioningHooks(this.deps);
  }

  async addConnection(options: ConnectionOptions = {}): Promise<ConnectionRecord> {
    return writeConnection(this.store, { ...testConnection(options.id ?? testConnectionId, options, this.clock.now()), tenantName: 'Contoso' });
  }

  async setConnection(id: string, change: Partial<ConnectionRecord>): Promise<void> {
    await changeConnection(this.store, id, change);
  }

  async addUser(fields: Partial<UserRecord> = {}): Promise<UserRecord> {
    this.userCount += 1;
    const n = this.userCount;
    const now = this.clock.now().toISOString();
    const record: UserRecord = {
      id: `user-${n}`,
      email: `person${n}@contoso.com`,
      username: `person${n}`,
      firstName: 'Person',
      lastName: `Number${n}`,
      displayName: `Person Number${n}`,
      state: 'active',
      createdAt: now,
      updatedAt: now,
      ...fields,
    };
    await this.store.upsert('users', record.id, record.id, record);
    return record;
  }

  /** Changes a user as the directory would, then announces it. */
  async changeUser(id: string, change: Partial<UserRecord>, type: DirectoryChange['type'] = 'user.updated'): Promise<void> {
    const doc = await this.store.get<UserRecord>('users', id, id);
    const record = { ...(doc?.data as UserRecord), ...change, updatedAt: this.clock.now().toISOString() };
    await this.store.upsert('users', id, id, record);
    const occurredAt = record.updatedAt;
    if (type === 'user.updated') await this.hooks.onChange({ type, userId: id, email: record.email, changedFields: Object.keys(change) as never, occurredAt });
    else if (type === 'user.suspended' || type === 'user.activated' || type === 'user.deleted' || type === 'user.password_changed' || type === 'user.created') {
      await this.hooks.onChange({ type, userId: id, email: record.email, occurredAt });
    }
  }

  async deleteUser(id: string): Promise<void> {
    const doc = await this.store.get<UserRecord>('users', id, id);
    await this.store.delete('users', id, id);
    await this.hooks.onChange({ type: 'user.deleted', userId: id, email: doc?.data.email ?? '', occurredAt: this.clock.now().toISOString() });
  }

  async binding(userId: string, connectionId = testConnectionId): Promise<UserBindingRecord | undefined> {
    return (await this.store.get<UserBindingRecord>('bindings', connectionId, userId))?.data;
  }

  async events(type?: ProvisioningEvent['type']): Promise<ProvisioningEvent[]> {
    const page = await this.store.query<ProvisioningEvent>('events', { ...(type === undefined ? {} : { where: [{ field: 'type', op: 'eq', value: type }] }), limit: 1000 });
    return page.items.map((doc) => doc.data);
  }

  /**
   * Delivers queued messages, earliest first, moving the clock to scheduled ones, until the queue is
   * empty or `maxDeliveries` were made. A throw counts a delivery; the last allowed one dead-letters.
   */
  async drain(options: { maxDeliveries?: number; until?: (h: ProvisioningHarness) => boolean } = {}): Promise<number> {
    let deliveries = 0;
    const max = options.maxDeliveries ?? 200;
    while (this.queue.pending.length > 0 && deliveries < max && options.until?.(this) !== true) {
      this.queue.pending.sort((a, b) => (a.scheduledEnqueueTime?.getTime() ?? 0) - (b.scheduledEnqueueTime?.getTime() ?? 0));
      const message = this.queue.pending[0] as QueuedMessage;
      const at = message.scheduledEnqueueTime?.getTime() ?? 0;
      if (at > this.clock.ms) this.clock.ms = at;
      await this.deliver(message);
      deliveries += 1;
    }
    return deliveries;
  }

  /** Delivers one message; returns how it settled, or the error it threw. */
  async deliver(message: QueuedMessage): Promise<MessageSettlement | Error> {
    message.deliveryCount += 1;
    const remove = () => this.queue.pending.splice(this.queue.pending.indexOf(message), 1);
    try {
      const settlement = await handleProvisioningMessage(this.deps, { messageId: message.messageId, ...(message.sessionId === undefined ? {} : { sessionId: message.sessionId }), deliveryCount: message.deliveryCount, enqueuedAt: this.clock.now(), body: message.body });
      this.settlements.push(settlement);
      remove();
      if (settlement.kind === 'dead_letter') this.queue.deadLetters.push({ message, reason: settlement.reason });
      return settlement;
    } catch (error) {
      if (message.deliveryCount >= this.deps.maxAttempts) {
        remove();
        this.queue.deadLetters.push({ message, reason: (error as Error).message });
      }
      return error as Error;
    }
  }
}
