import type { M365UserProperty } from '../../../src/domain/provisioning/m365-user-gateway';
import type { DeltaUser, M365UsersDelta, UsersDeltaFailure, UsersDeltaPage, UsersDeltaStart } from '../../../src/domain/reconcile/m365-users-delta';
import { err, ok, type Result } from '../../../src/domain/result';

type Snapshot = ReadonlyMap<string, string>;

/**
 * users/delta over a map of accounts (the fake gateway's tenant): a round reports the accounts
 * that differ from the snapshot its deltaLink was issued at. Links: `fake:delta:<snapshot>` and
 * `fake:next:<round>:<position>`.
 */
export class FakeUsersDelta implements M365UsersDelta {
  readonly requests: UsersDeltaStart[] = [];
  pageSize = 2;
  private readonly snapshots: Snapshot[] = [];
  private readonly rounds: { items: (DeltaUser | { id: string; removed: true })[]; select: readonly string[] }[] = [];
  private readonly expired = new Set<number>();
  private failure: UsersDeltaFailure | undefined;

  constructor(private readonly accounts: Map<string, Record<string, unknown>>) {}

  /** Every deltaLink issued so far stops working, the way an expired token does (410). */
  expireTokens(): void {
    for (let i = 0; i < this.snapshots.length; i += 1) this.expired.add(i);
  }

  failNext(failure: UsersDeltaFailure): void {
    this.failure = failure;
  }

  async page(_connectionId: string, from: UsersDeltaStart): Promise<Result<UsersDeltaPage, UsersDeltaFailure>> {
    this.requests.push(from);
    if (this.failure !== undefined) {
      const failure = this.failure;
      this.failure = undefined;
      return err(failure);
    }
    let round: number;
    let position = 0;
    if (from.kind === 'full') {
      round = this.startRound(undefined, from.select);
    } else {
      const [kind, a, b] = from.link.split(':').slice(1);
      if (kind === 'delta') {
        const snapshot = Number(a);
        if (this.expired.has(snapshot)) return err({ code: 'resync_required', message: 'Graph 410 syncStateNotFound: the delta token is expired' });
        round = this.startRound(snapshot, undefined);
      } else {
        round = Number(a);
        position = Number(b);
      }
    }
    const { items } = this.rounds[round] as (typeof this.rounds)[number];
    const slice = items.slice(position, position + this.pageSize);
    const changed = slice.filter((i): i is DeltaUser => !('removed' in i));
    const removed = slice.filter((i) => 'removed' in i).map((i) => i.id);
    if (position + this.pageSize < items.length) return ok({ changed, removed, next: { kind: 'next', link: `fake:next:${round}:${position + this.pageSize}` } });
    this.snapshots.push(this.snapshot());
    return ok({ changed, removed, next: { kind: 'done', deltaLink: `fake:delta:${this.snapshots.length - 1}` } });
  }

  private snapshot(): Snapshot {
    return new Map([...this.accounts].map(([id, account]) => [id, JSON.stringify(account)]));
  }

  private startRound(since: number | undefined, select: readonly M365UserProperty[] | undefined): number {
    const chosen = select ?? this.rounds[this.rounds.length - 1]?.select ?? [];
    const before = since === undefined ? undefined : this.snapshots[since];
    const items: (DeltaUser | { id: string; removed: true })[] = [];
    for (const [id, account] of [...this.accounts].sort(([a], [b]) => a.localeCompare(b))) {
      if (before !== undefined && before.get(id) === JSON.stringify(account)) continue;
      const item: Record<string, unknown> = { id };
      for (const name of chosen) item[name] = account[name] ?? null;
      items.push(item as DeltaUser);
    }
    if (before !== undefined) for (const id of before.keys()) if (!this.accounts.has(id)) items.push({ id, removed: true });
    this.rounds.push({ items, select: chosen });
    return this.rounds.length - 1;
  }
}
