import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';

/**
 * Microsoft Graph's write limits for directory objects (throttling-limits.md, "Identity and access
 * service limits"): per application across all tenants, 35,000 writes per 5 minutes; per
 * application and tenant, 3,000 per 2 minutes 30 seconds.
 */
export interface WriteLimits {
  readonly appWritesPer5Minutes: number;
  readonly tenantWritesPer150Seconds: number;
}

export const graphWriteLimits: WriteLimits = { appWritesPer5Minutes: 35_000, tenantWritesPer150Seconds: 3_000 };

/**
 * The share of a limit the buckets hand out: Graph counts in fixed windows, and a bucket refilled at
 * the full rate plus its one-second burst could pass a little more than the limit in one window
 * (98 % of 150 s plus 1 s is 148 s worth).
 */
const usableShare = 0.98;

/** A token bucket: at most `capacity` tokens, refilled at `perSecond`. */
export interface BucketSpec {
  readonly id: string;
  readonly capacity: number;
  readonly perSecond: number;
}

interface BucketDocument {
  readonly tokens: number;
  readonly atMs: number;
}

const bucketPartition = 'write-budget';
const maxTakeAttempts = 8;

/**
 * Token buckets every instance of the app shares, kept in the document store (container `state`,
 * pk `write-budget`): a take reads the bucket, refills it for the time passed, and writes it back
 * only if nobody wrote it meanwhile (ETag), trying again if someone did.
 */
export class StoreTokenBuckets {
  constructor(
    private readonly store: DocumentStore,
    private readonly clock: Clock,
  ) {}

  /** Takes up to `want` tokens; with none, says when the next one will be there. */
  async take(spec: BucketSpec, want: number): Promise<{ granted: number; nextInMs: number }> {
    for (let attempt = 0; attempt < maxTakeAttempts; attempt += 1) {
      const stored = await this.store.get<BucketDocument>('state', bucketPartition, spec.id);
      const nowMs = this.clock.now().getTime();
      const tokens = stored === undefined ? spec.capacity : Math.min(spec.capacity, stored.data.tokens + ((nowMs - stored.data.atMs) * spec.perSecond) / 1000);
      const granted = Math.min(want, Math.floor(tokens));
      if (granted <= 0) return { granted: 0, nextInMs: Math.max(1, Math.ceil(((1 - tokens) * 1000) / spec.perSecond)) };
      const next: BucketDocument = { tokens: tokens - granted, atMs: nowMs };
      const written = stored === undefined ? await this.store.create('state', bucketPartition, spec.id, next) : await this.store.replace('state', bucketPartition, spec.id, next, { ifMatch: stored.etag });
      if (written.ok) return { granted, nextInMs: 0 };
    }
    // Many instances took at once: back off a moment rather than spin on the store.
    return { granted: 0, nextInMs: 10 };
  }
}

interface Waiter {
  readonly deadlineMs: number;
  resolve(granted: boolean): void;
}

interface Lease {
  count: number;
  expiresAtMs: number;
}

export interface WriteBudgetOptions {
  /** Tokens leased from a shared bucket are used within this or dropped, so no instance hoards them. */
  readonly leaseMs?: number;
  /** A write that waited this long gives up (the caller reschedules its work). */
  readonly maxWaitMs?: number;
  /** Longest pause between two looks at the buckets while writes wait. */
  readonly maxIdleMs?: number;
}

/** What a connection's writes go through: `acquire` before each Graph write. */
export interface WriteBudget {
  /** Waits for `count` write tokens for the connection; false when it waited too long. */
  acquire(connectionId: string, count?: number): Promise<boolean>;
}

/**
 * One write budget for the whole app, shared by every connection and every instance: the app-wide
 * bucket holds Graph's per-application limit, one bucket per connection its per-tenant limit.
 * Within an instance, waiting writes are served round robin across connections, one token per
 * connection per turn: every connection with work gets an equal share (a tenant with little work is
 * served at once), and none can take more than its tenant's limit. Tokens are leased from the shared
 * buckets in small chunks, never more than the writes waiting, and expire after `leaseMs`.
 */
export class AppWriteBudget implements WriteBudget {
  private readonly app: BucketSpec;
  private readonly perConnection: Omit<BucketSpec, 'id'>;
  private readonly leaseMs: number;
  private readonly maxWaitMs: number;
  private readonly maxIdleMs: number;
  /** Connections with waiting writes, in serving order (a served connection moves to the back). */
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly connectionLeases = new Map<string, Lease>();
  private appLease: Lease = { count: 0, expiresAtMs: 0 };
  private pumping = false;

  constructor(
    private readonly buckets: StoreTokenBuckets,
    private readonly clock: Clock,
    limits: WriteLimits = graphWriteLimits,
    options: WriteBudgetOptions = {},
  ) {
    const appPerSecond = (limits.appWritesPer5Minutes / 300) * usableShare;
    const tenantPerSecond = (limits.tenantWritesPer150Seconds / 150) * usableShare;
    // One second's worth of burst: a quiet app starts at once, a busy one stays under Graph's windows.
    this.app = { id: 'app', capacity: Math.max(1, Math.floor(appPerSecond)), perSecond: appPerSecond };
    this.perConnection = { capacity: Math.max(1, Math.floor(tenantPerSecond)), perSecond: tenantPerSecond };
    this.leaseMs = options.leaseMs ?? 1_000;
    this.maxWaitMs = options.maxWaitMs ?? 20_000;
    this.maxIdleMs = options.maxIdleMs ?? 250;
  }

  async acquire(connectionId: string, count = 1): Promise<boolean> {
    for (let i = 0; i < count; i += 1) {
      const granted = await new Promise<boolean>((resolve) => {
        const queue = this.waiting.get(connectionId) ?? [];
        queue.push({ deadlineMs: this.nowMs() + this.maxWaitMs, resolve });
        this.waiting.set(connectionId, queue);
        this.kick();
      });
      if (!granted) return false;
    }
    return true;
  }

  private nowMs(): number {
    return this.clock.now().getTime();
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.pump().then(
      () => {
        this.pumping = false;
        if (this.waiting.size > 0) this.kick();
      },
      () => {
        // The store failed (or closed): the writes waiting give up and their work is rescheduled;
        // the next write to arrive tries the store again.
        this.pumping = false;
        for (const queue of this.waiting.values()) for (const waiter of queue) waiter.resolve(false);
        this.waiting.clear();
      },
    );
  }

  private waiters(): number {
    let total = 0;
    for (const queue of this.waiting.values()) total += queue.length;
    return total;
  }

  /** Serves waiting writes until none is left, leasing tokens as needed. */
  private async pump(): Promise<void> {
    while (this.waiting.size > 0) {
      const nowMs = this.nowMs();
      this.expireWaiters(nowMs);
      if (this.waiting.size === 0) return;
      if (this.appLease.expiresAtMs <= nowMs) this.appLease = { count: 0, expiresAtMs: 0 };
      let idleMs = this.maxIdleMs;
      if (this.appLease.count === 0) {
        const taken = await this.buckets.take(this.app, Math.min(this.app.capacity, this.waiters()));
        if (taken.granted === 0) {
          await this.sleep(Math.min(this.maxIdleMs, taken.nextInMs));
          continue;
        }
        this.appLease = { count: taken.granted, expiresAtMs: this.nowMs() + this.leaseMs };
      }
      let served = false;
      for (const connectionId of [...this.waiting.keys()]) {
        if (this.appLease.count === 0) break;
        const lease = await this.connectionLease(connectionId);
        if (typeof lease === 'number') {
          idleMs = Math.min(idleMs, lease);
          continue;
        }
        const queue = this.waiting.get(connectionId) as Waiter[];
        const waiter = queue.shift() as Waiter;
        lease.count -= 1;
        this.appLease.count -= 1;
        waiter.resolve(true);
        served = true;
        // To the back of the line: the next turn serves the other connections first.
        this.waiting.delete(connectionId);
        if (queue.length > 0) this.waiting.set(connectionId, queue);
      }
      if (!served) await this.sleep(idleMs);
    }
  }

  /** The connection's leased tokens (leasing more when out), or how long until its bucket has one. */
  private async connectionLease(connectionId: string): Promise<Lease | number> {
    const nowMs = this.nowMs();
    let lease = this.connectionLeases.get(connectionId);
    if (lease !== undefined && lease.count > 0 && lease.expiresAtMs > nowMs) return lease;
    const want = Math.min(this.perConnection.capacity, this.waiting.get(connectionId)?.length ?? 1);
    const taken = await this.buckets.take({ id: `connection:${connectionId}`, ...this.perConnection }, want);
    if (taken.granted === 0) return taken.nextInMs;
    lease = { count: taken.granted, expiresAtMs: this.nowMs() + this.leaseMs };
    this.connectionLeases.set(connectionId, lease);
    return lease;
  }

  private expireWaiters(nowMs: number): void {
    for (const [connectionId, queue] of [...this.waiting]) {
      const keep = queue.filter((waiter) => {
        if (waiter.deadlineMs > nowMs) return true;
        waiter.resolve(false);
        return false;
      });
      if (keep.length === 0) this.waiting.delete(connectionId);
      else this.waiting.set(connectionId, keep);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(1, ms)));
  }
}
