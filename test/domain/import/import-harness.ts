import { openDatabase } from '../../../src/adapters/sqlite/database';
import { SqliteDocumentStore } from '../../../src/adapters/sqlite/sqlite-document-store';
import type { ConnectionRecord } from '../../../src/domain/connections/connection';
import type { DirectoryHooks } from '../../../src/domain/directory/directory-hooks';
import type { UserRecord } from '../../../src/domain/directory/user-records';
import { createUser } from '../../../src/domain/directory/users';
import { startImport, type ImportJobView, type StartImportRequest } from '../../../src/domain/import/import-jobs';
import { handleImportMessage, type ImportWorkerDeps } from '../../../src/domain/import/import-worker';
import type { MessageSettlement } from '../../../src/domain/queue-messages';
import type { DirectoryRead, DirectoryReadFailure, M365Directory, M365Group, M365Page, M365Person } from '../../../src/domain/import/m365-directory';
import type { DocumentStore } from '../../../src/domain/ports/document-store';
import type { MessageSender, OutgoingMessage, QueueName } from '../../../src/domain/ports/work-queue';
import type { SecretStore } from '../../../src/domain/ports/secret-store';
import type { UserBindingRecord } from '../../../src/domain/provisioning/binding';
import type { Notice } from '../../../src/domain/provisioning/binding-notice';
import { createProvisioningHooks } from '../../../src/domain/provisioning/provisioning-hooks';
import { err, ok } from '../../../src/domain/result';
import { changeConnection, silentLogger, testConnection, writeConnection, type ConnectionOptions } from '../provisioning/provisioning-harness';
import { ManualClock } from '../../support/manual-clock';

export const connectionId = 'conn-contoso';

let guidSeq = 0;
/** A GUID-shaped object id, as Graph gives them. */
export function objectId(): string {
  guidSeq += 1;
  return `00000000-0000-4000-8000-${guidSeq.toString(16).padStart(12, '0')}`;
}

/**
 * A tenant's users and groups behind the import port: pages of `pageSize`, links that name the
 * listing, a count of reads, and failures queued for the next reads.
 */
export class FakeM365Directory implements M365Directory {
  readonly persons: M365Person[] = [];
  readonly groups = new Map<string, M365Group & { members: string[] }>();
  readonly reads: string[] = [];
  readonly failures: DirectoryReadFailure[] = [];
  /** Accounts holding a privileged directory role (object ids, lower case). */
  readonly roleHolders = new Set<string>();

  constructor(public pageSize = 3) {}

  privilegedRoleHolders(): Promise<DirectoryRead<ReadonlySet<string>>> {
    return Promise.resolve({ ok: true, value: this.roleHolders });
  }

  addPerson(fields: Partial<M365Person> & { userPrincipalName: string }): M365Person {
    const person: M365Person = { id: objectId(), accountEnabled: true, mail: fields.userPrincipalName, mailNickname: fields.userPrincipalName.split('@')[0] ?? null, ...fields };
    this.persons.push(person);
    return person;
  }

  addGroup(fields: Partial<M365Group> & { displayName: string }, members: readonly M365Person[]): M365Group {
    const group = { id: objectId(), securityEnabled: true, mailEnabled: false, groupTypes: [], ...fields, members: members.map((m) => m.id) };
    this.groups.set(group.id, group);
    return group;
  }

  private failure(): DirectoryReadFailure | undefined {
    return this.failures.shift();
  }

  private pageOf(items: readonly M365Person[], base: string, link: string | undefined): DirectoryRead<M365Page<M365Person>> {
    let offset = 0;
    if (link !== undefined) {
      const match = /^(.*)#(\d+)$/.exec(link);
      if (match === null || match[1] !== base) return err({ kind: 'invalid_link', code: 'INVALID_PAGE_LINK', message: 'not a link of this listing' });
      offset = Number(match[2]);
    }
    const slice = items.slice(offset, offset + this.pageSize);
    const next = offset + this.pageSize < items.length ? `${base}#${offset + this.pageSize}` : undefined;
    return ok({ items: slice, ...(next === undefined ? {} : { nextPage: next }) });
  }

  async listUsers(request: { readonly enabled?: boolean; readonly page?: string }): Promise<DirectoryRead<M365Page<M365Person>>> {
    this.reads.push(`users ${request.page ?? 'first'}`);
    const failed = this.failure();
    if (failed !== undefined) return err(failed);
    const items = request.enabled === undefined ? this.persons : this.persons.filter((p) => (p.accountEnabled !== false) === request.enabled);
    return this.pageOf(items, `fake://users?enabled=${String(request.enabled)}`, request.page);
  }

  async usersByIds(ids: readonly string[]): Promise<DirectoryRead<M365Person[]>> {
    this.reads.push(`ids ${ids.length}`);
    const failed = this.failure();
    if (failed !== undefined) return err(failed);
    return ok(this.persons.filter((p) => ids.includes(p.id)));
  }

  async getGroup(id: string): Promise<DirectoryRead<M365Group | undefined>> {
    this.reads.push(`group ${id}`);
    const failed = this.failure();
    if (failed !== undefined) return err(failed);
    const group = this.groups.get(id);
    if (group === undefined) return ok(undefined);
    const { members: _members, ...view } = group;
    return ok(view);
  }

  async listGroupMembers(groupId: string, page?: string): Promise<DirectoryRead<M365Page<M365Person>>> {
    this.reads.push(`members ${groupId} ${page ?? 'first'}`);
    const failed = this.failure();
    if (failed !== undefined) return err(failed);
    const members = (this.groups.get(groupId)?.members ?? []).map((id) => this.persons.find((p) => p.id === id)).filter((p): p is M365Person => p !== undefined);
    return this.pageOf(members, `fake://groups/${groupId}/members`, page);
  }
}

export interface QueuedMessage extends OutgoingMessage {
  readonly queue: QueueName;
  deliveryCount: number;
}

/** Both queues in memory: id de-duplication, scheduled delivery, delivery counts. */
class MemoryQueue implements MessageSender {
  readonly pending: QueuedMessage[] = [];
  readonly sent: (OutgoingMessage & { queue: QueueName })[] = [];
  private readonly seen = new Set<string>();
  /** Sends that fail once (the process died before the message reached the queue). */
  lose: ((message: OutgoingMessage) => boolean) | undefined;
  async send(queue: QueueName, messages: readonly OutgoingMessage[]): Promise<void> {
    for (const message of messages) {
      if (this.lose?.(message) === true) {
        this.lose = undefined;
        throw new Error('simulated crash before the send');
      }
      this.sent.push({ ...message, queue });
      if (this.seen.has(`${queue}/${message.messageId}`)) continue;
      this.seen.add(`${queue}/${message.messageId}`);
      this.pending.push({ ...message, queue, deliveryCount: 0 });
    }
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

const memorySecrets: SecretStore = {
  get: async () => undefined,
  set: async () => undefined,
  delete: async () => undefined,
  ping: async () => undefined,
};

/** A store that fails the n-th write from when it is armed, once: a crash at that point of a run. */
export class CrashingStore {
  private writesLeft: number | undefined;
  readonly store: DocumentStore;

  constructor(inner: DocumentStore) {
    const writes = new Set(['create', 'replace', 'upsert', 'delete']);
    this.store = new Proxy(inner, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (writes.has(String(property)) && this.writesLeft !== undefined) {
            this.writesLeft -= 1;
            if (this.writesLeft <= 0) {
              this.writesLeft = undefined;
              throw new Error('simulated crash');
            }
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  /** The `n`-th write from now throws (1 = the next one). */
  crashAtWrite(n: number): void {
    this.writesLeft = n;
  }
}

/** The import domain wired on an in-memory SQLite store, a memory queue and a fake tenant. */
export class ImportHarness {
  readonly clock = new ManualClock(Date.parse('2025-03-01T09:00:00.000Z'));
  readonly inner = new SqliteDocumentStore(openDatabase(':memory:'), { clock: this.clock });
  readonly crashing = new CrashingStore(this.inner);
  readonly store = this.crashing.store;
  readonly queue = new MemoryQueue();
  readonly tenant = new FakeM365Directory();
  readonly notices: Notice[] = [];
  readonly settlements: MessageSettlement[] = [];
  readonly deps: ImportWorkerDeps;

  constructor(options: { maxAttempts?: number } = {}) {
    const hooks: { current?: DirectoryHooks } = {};
    const directoryHooks: DirectoryHooks = {
      onChange: (change) => hooks.current?.onChange(change) ?? Promise.resolve(),
      checkEmailChange: async (user, email) => hooks.current?.checkEmailChange(user, email) ?? ok(undefined),
      handOffPassword: async (userId, password) => hooks.current?.handOffPassword(userId, password),
    };
    this.deps = {
      store: this.store,
      clock: this.clock,
      logger: silentLogger,
      sender: this.queue,
      notices: { send: async (notice) => void this.notices.push(notice) },
      directoryHooks,
      directories: { forConnection: () => this.tenant },
      maxAttempts: options.maxAttempts ?? 5,
    };
    // The real provisioning hooks: a nudge they send shows in the queue.
    hooks.current = createProvisioningHooks({ ...this.deps, secrets: memorySecrets });
  }

  async addConnection(options: ConnectionOptions = {}): Promise<ConnectionRecord> {
    return writeConnection(this.inner, testConnection(options.id ?? connectionId, options, this.clock.now()));
  }

  async setConnection(id: string, change: Partial<ConnectionRecord>): Promise<void> {
    await changeConnection(this.inner, id, change);
  }

  /** A directory user made through the directory's own use case. */
  async directoryUser(email: string, fields: Record<string, unknown> = {}): Promise<string> {
    const created = await createUser(this.deps, { email, ...fields });
    if (!created.ok) throw new Error(`could not create ${email}: ${created.error.code}`);
    return created.value.value.id;
  }

  async start(request: StartImportRequest, connection = connectionId): Promise<string> {
    const started = await startImport(this.deps, connection, request);
    if (!started.ok) throw new Error(`could not start the import: ${started.error.message}`);
    return started.value.id;
  }

  async job(jobId: string): Promise<ImportJobView> {
    const { getImportJob } = await import('../../../src/domain/import/import-jobs');
    const found = await getImportJob({ store: this.inner }, jobId, { limit: 1000 });
    if (!found.ok) throw new Error(found.error.message);
    return found.value;
  }

  async usersByEmail(email: string): Promise<UserRecord[]> {
    return (await this.inner.query<UserRecord>('users', { where: [{ field: 'email', op: 'eq', value: email }], limit: 10 })).items.map((d) => d.data);
  }

  async binding(userId: string, connection = connectionId): Promise<UserBindingRecord | undefined> {
    return (await this.inner.get<UserBindingRecord>('bindings', connection, userId))?.data;
  }

  /** Messages sent to the provisioning queue (nudges), which an import of a new user must never send. */
  provisioningMessages(): OutgoingMessage[] {
    return this.queue.sent.filter((m) => m.queue === 'provisioning');
  }

  /**
   * Delivers the import queue's messages, earliest first, moving the clock to scheduled ones, until
   * none is left or `maxDeliveries` were made. A throw counts a delivery; the last allowed one drops it.
   */
  async drain(maxDeliveries = 500): Promise<number> {
    let deliveries = 0;
    for (;;) {
      const imports = this.queue.pending.filter((m) => m.queue === 'imports');
      if (imports.length === 0 || deliveries >= maxDeliveries) return deliveries;
      imports.sort((a, b) => (a.scheduledEnqueueTime?.getTime() ?? 0) - (b.scheduledEnqueueTime?.getTime() ?? 0));
      const message = imports[0] as QueuedMessage;
      const at = message.scheduledEnqueueTime?.getTime() ?? 0;
      if (at > this.clock.ms) this.clock.ms = at;
      await this.deliver(message);
      deliveries += 1;
    }
  }

  async deliver(message: QueuedMessage): Promise<MessageSettlement | Error> {
    message.deliveryCount += 1;
    const remove = () => this.queue.pending.splice(this.queue.pending.indexOf(message), 1);
    try {
      const settlement = await handleImportMessage(this.deps, { messageId: message.messageId, deliveryCount: message.deliveryCount, enqueuedAt: this.clock.now(), body: message.body });
      this.settlements.push(settlement);
      remove();
      return settlement;
    } catch (error) {
      if (message.deliveryCount >= this.deps.maxAttempts) remove();
      return error as Error;
    }
  }
}
