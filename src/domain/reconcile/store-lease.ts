import type { Clock } from '../ports/clock';
import type { DocumentStore } from '../ports/document-store';
import { err, ok, type Result } from '../result';

/** A lease as stored (container `leases`, pk = id = lease name). */
interface LeaseRecord {
  readonly name: string;
  /** The run holding it. */
  readonly owner: string;
  readonly acquiredAt: string;
  readonly expiresAtMs: number;
}

/** Another run holds the lease until `expiresAt`. */
export interface LeaseHeld {
  readonly code: 'lease_held';
  readonly owner: string;
  readonly expiresAt: string;
}

export interface LeaseDeps {
  readonly store: DocumentStore;
  readonly clock: Clock;
}

/**
 * A time-limited claim on a name, held through the store's ETags: a second claimant is refused
 * until the holder releases it or lets it expire (a holder that died simply stops renewing).
 */
export class StoreLease {
  private constructor(
    private readonly deps: LeaseDeps,
    readonly name: string,
    readonly owner: string,
    private readonly acquiredAt: string,
    private readonly durationMs: number,
    private etag: string,
    private expiresAtMs: number,
    private lost = false,
  ) {}

  /**
   * Claims `name` for `durationMs`, or says who holds it. The owner holding it already claims it
   * again (a queued run picking up the lease its request took).
   */
  static async acquire(deps: LeaseDeps, name: string, owner: string, durationMs: number): Promise<Result<StoreLease, LeaseHeld>> {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const now = deps.clock.now();
      const record: LeaseRecord = { name, owner, acquiredAt: now.toISOString(), expiresAtMs: now.getTime() + durationMs };
      const created = await deps.store.create<LeaseRecord>('leases', name, name, record);
      if (created.ok) return ok(new StoreLease(deps, name, owner, record.acquiredAt, durationMs, created.value.etag, record.expiresAtMs));
      const existing = await deps.store.get<LeaseRecord>('leases', name, name);
      if (existing === undefined) continue;
      if (existing.data.expiresAtMs > now.getTime() && existing.data.owner !== owner) {
        return err({ code: 'lease_held', owner: existing.data.owner, expiresAt: new Date(existing.data.expiresAtMs).toISOString() });
      }
      // Expired (its holder died or stalled) or already ours. Taking it over is a conditional write, so only one claimant wins.
      const replaced = await deps.store.replace<LeaseRecord>('leases', name, name, record, { ifMatch: existing.etag });
      if (replaced.ok) return ok(new StoreLease(deps, name, owner, record.acquiredAt, durationMs, replaced.value.etag, record.expiresAtMs));
    }
    throw new Error(`lease ${name} kept changing hands while being acquired`);
  }

  get expiresAt(): string {
    return new Date(this.expiresAtMs).toISOString();
  }

  /**
   * Extends the lease once half of it has run out (or always, with `force`). False when it was lost:
   * it expired and someone else took it, so the caller must stop before writing anything.
   */
  async keep(force = false): Promise<boolean> {
    if (this.lost) return false;
    const now = this.deps.clock.now().getTime();
    if (!force && this.expiresAtMs - now > this.durationMs / 2) return true;
    const record: LeaseRecord = { name: this.name, owner: this.owner, acquiredAt: this.acquiredAt, expiresAtMs: now + this.durationMs };
    const replaced = await this.deps.store.replace<LeaseRecord>('leases', this.name, this.name, record, { ifMatch: this.etag });
    if (!replaced.ok) {
      this.lost = true;
      return false;
    }
    this.etag = replaced.value.etag;
    this.expiresAtMs = record.expiresAtMs;
    return true;
  }

  /**
   * Gives the lease up, or with `notBeforeMs` in the future lets it expire then instead; a lease
   * lost meanwhile is left to its new holder.
   */
  async release(options: { readonly notBeforeMs?: number } = {}): Promise<void> {
    if (this.lost) return;
    this.lost = true;
    const notBeforeMs = options.notBeforeMs ?? 0;
    if (notBeforeMs > this.deps.clock.now().getTime()) {
      const record: LeaseRecord = { name: this.name, owner: this.owner, acquiredAt: this.acquiredAt, expiresAtMs: Math.min(notBeforeMs, this.expiresAtMs) };
      await this.deps.store.replace<LeaseRecord>('leases', this.name, this.name, record, { ifMatch: this.etag });
      return;
    }
    await this.deps.store.delete('leases', this.name, this.name, { ifMatch: this.etag });
  }
}

/** Who holds a lease right now, if anyone. */
export async function leaseHolder(deps: LeaseDeps, name: string): Promise<{ readonly owner: string; readonly expiresAt: string } | undefined> {
  const doc = await deps.store.get<LeaseRecord>('leases', name, name);
  if (doc === undefined || doc.data.expiresAtMs <= deps.clock.now().getTime()) return undefined;
  return { owner: doc.data.owner, expiresAt: new Date(doc.data.expiresAtMs).toISOString() };
}

/** Frees a lease if `owner` holds it (a queued run that will not run gives back what its request took). */
export async function releaseIfHeldBy(deps: LeaseDeps, name: string, owner: string): Promise<void> {
  const doc = await deps.store.get<LeaseRecord>('leases', name, name);
  if (doc === undefined || doc.data.owner !== owner) return;
  await deps.store.delete('leases', name, name, { ifMatch: doc.etag });
}
