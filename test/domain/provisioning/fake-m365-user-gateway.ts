import { randomUUID } from 'node:crypto';
import type { AssignedLicense, GatewayFailure, GatewayResult, M365User, M365UserGateway, M365UserPatch, M365UserProperty, NewM365User, SubscribedSku } from '../../../src/domain/provisioning/m365-user-gateway';
import { err, ok } from '../../../src/domain/result';

type Op = 'findByUpn' | 'get' | 'create' | 'update' | 'setManager' | 'revokeSessions' | 'delete' | 'restore' | 'subscribedSkus' | 'assignLicenses';

/** A scripted fault: the next call of `op` fails; with `afterApplying` the call takes effect first and only its answer is lost. */
interface Fault {
  readonly op: Op;
  readonly failure: GatewayFailure;
  readonly afterApplying?: boolean;
}

export interface Call {
  readonly op: Op;
  readonly id?: string;
  readonly select?: readonly string[];
  readonly attributes?: Readonly<Record<string, unknown>>;
  readonly password?: string;
  readonly manager?: string | null;
  readonly add?: readonly AssignedLicense[];
  readonly remove?: readonly string[];
}

/** A tiny in-memory Microsoft 365 tenant behind the gateway port, with fault injection. */
export class FakeM365UserGateway implements M365UserGateway {
  readonly accounts = new Map<string, Record<string, unknown>>();
  readonly passwords = new Map<string, string>();
  readonly managers = new Map<string, string | null>();
  /** The tenant's products: `enabled` seats each; consumption is counted from the accounts. */
  readonly skus: { skuId: string; skuPartNumber: string; enabled: number }[] = [];
  /** Deleted accounts, restorable until `purge`. */
  readonly deleted = new Map<string, Record<string, unknown>>();
  /** How often each account's sign-in sessions were revoked. */
  readonly revocations = new Map<string, number>();
  readonly calls: Call[] = [];
  private readonly faults: Fault[] = [];
  /** Accounts reads do not see yet (Graph's replication lag); writes and UPN uniqueness do. */
  readonly invisible = new Set<string>();

  failNext(op: Op, failure: GatewayFailure, options: { afterApplying?: boolean } = {}): void {
    this.faults.push({ op, failure, ...options });
  }

  seed(attributes: Record<string, unknown>): string {
    const id = randomUUID();
    this.accounts.set(id, { accountEnabled: true, ...attributes, id });
    return id;
  }

  byUpn(upn: string): Record<string, unknown> | undefined {
    return [...this.accounts.values()].find((a) => String(a.userPrincipalName).toLowerCase() === upn.toLowerCase());
  }

  writes(): Call[] {
    return this.calls.filter((c) => c.op === 'create' || c.op === 'update' || c.op === 'setManager' || c.op === 'revokeSessions' || c.op === 'delete' || c.op === 'restore' || c.op === 'assignLicenses');
  }

  private fault(op: Op): Fault | undefined {
    const index = this.faults.findIndex((f) => f.op === op);
    return index < 0 ? undefined : this.faults.splice(index, 1)[0];
  }

  private selected(account: Record<string, unknown>, select: readonly string[]): M365User {
    const out: Record<string, unknown> = {};
    for (const name of select) out[name] = account[name] ?? null;
    return out as unknown as M365User;
  }

  private async run<T>(op: Op, apply: () => GatewayResult<T>): Promise<GatewayResult<T>> {
    const fault = this.fault(op);
    if (fault === undefined) return apply();
    if (fault.afterApplying === true) apply();
    return err(fault.failure);
  }

  findByUpn(upn: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User | undefined>> {
    this.calls.push({ op: 'findByUpn', select });
    return this.run('findByUpn', () => {
      const account = this.byUpn(upn);
      return ok(account === undefined || this.invisible.has(account.id as string) ? undefined : this.selected(account, select));
    });
  }

  get(id: string, select: readonly M365UserProperty[]): Promise<GatewayResult<M365User>> {
    this.calls.push({ op: 'get', id, select });
    return this.run('get', () => {
      const account = this.accounts.get(id);
      if (account === undefined || this.invisible.has(id)) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      return ok(this.selected(account, select));
    });
  }

  create(user: NewM365User): Promise<GatewayResult<M365User>> {
    this.calls.push({ op: 'create', attributes: user.attributes, password: user.passwordProfile.password });
    return this.run('create', () => {
      const upn = String(user.attributes.userPrincipalName);
      if (this.byUpn(upn) !== undefined) {
        return err({ kind: 'exists', code: 'Request_BadRequest', message: 'Another object with the same value for property userPrincipalName already exists.' });
      }
      const id = this.seed({ ...user.attributes });
      this.passwords.set(id, user.passwordProfile.password);
      return ok({ id, userPrincipalName: upn });
    });
  }

  update(id: string, patch: M365UserPatch): Promise<GatewayResult<void>> {
    this.calls.push({ op: 'update', id, attributes: patch.attributes, ...(patch.passwordProfile === undefined ? {} : { password: patch.passwordProfile.password }) });
    return this.run('update', () => {
      const account = this.accounts.get(id);
      if (account === undefined) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      Object.assign(account, patch.attributes);
      if (patch.passwordProfile !== undefined) this.passwords.set(id, patch.passwordProfile.password);
      return ok(undefined);
    });
  }

  setManager(id: string, managerId: string | null): Promise<GatewayResult<void>> {
    this.calls.push({ op: 'setManager', id, manager: managerId });
    return this.run('setManager', () => {
      if (!this.accounts.has(id)) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      this.managers.set(id, managerId);
      return ok(undefined);
    });
  }

  revokeSessions(id: string): Promise<GatewayResult<void>> {
    this.calls.push({ op: 'revokeSessions', id });
    return this.run('revokeSessions', () => {
      if (!this.accounts.has(id)) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      this.revocations.set(id, (this.revocations.get(id) ?? 0) + 1);
      return ok(undefined);
    });
  }

  delete(id: string): Promise<GatewayResult<void>> {
    this.calls.push({ op: 'delete', id });
    return this.run('delete', () => {
      const account = this.accounts.get(id);
      if (account === undefined) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      this.accounts.delete(id);
      this.deleted.set(id, account);
      return ok(undefined);
    });
  }

  restore(id: string): Promise<GatewayResult<void>> {
    this.calls.push({ op: 'restore', id });
    return this.run('restore', () => {
      const account = this.deleted.get(id);
      if (account === undefined) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      this.deleted.delete(id);
      this.accounts.set(id, account);
      return ok(undefined);
    });
  }

  /** Entra's 30 days ran out: the deleted account is gone for good. */
  purge(id: string): void {
    this.deleted.delete(id);
  }

  private consumed(skuId: string): number {
    return [...this.accounts.values()].filter((a) => ((a.assignedLicenses ?? []) as AssignedLicense[]).some((l) => l.skuId === skuId)).length;
  }

  subscribedSkus(): Promise<GatewayResult<SubscribedSku[]>> {
    this.calls.push({ op: 'subscribedSkus' });
    return this.run('subscribedSkus', () => ok(this.skus.map((sku) => ({ ...sku, appliesTo: 'User', capabilityStatus: 'Enabled', consumed: this.consumed(sku.skuId), servicePlans: [] }))));
  }

  /** Graph's refusals as the Graph adapter classifies them. */
  assignLicenses(id: string, add: readonly AssignedLicense[], remove: readonly string[]): Promise<GatewayResult<void>> {
    this.calls.push({ op: 'assignLicenses', id, add, remove });
    return this.run('assignLicenses', () => {
      const account = this.accounts.get(id);
      if (account === undefined) return err({ kind: 'not_found', code: 'Request_ResourceNotFound', message: `Resource '${id}' does not exist` });
      if (add.length > 0 && (account.usageLocation ?? null) === null) return err({ kind: 'permanent', code: 'USAGE_LOCATION_REQUIRED', message: 'License assignment cannot be done for user with invalid usage location.' });
      const current = ((account.assignedLicenses ?? []) as AssignedLicense[]).filter((l) => !remove.includes(l.skuId));
      for (const license of add) {
        const sku = this.skus.find((s) => s.skuId === license.skuId);
        if (sku === undefined) return err({ kind: 'permanent', code: 'Request_BadRequest', message: `License ${license.skuId} does not correspond to a valid company License.` });
        const held = current.some((l) => l.skuId === license.skuId);
        if (!held && this.consumed(sku.skuId) >= sku.enabled) return err({ kind: 'permanent', code: 'LICENSE_UNAVAILABLE', message: `Subscription with SKU ${sku.skuId} does not have any available licenses.` });
      }
      account.assignedLicenses = [...current.filter((l) => !add.some((a) => a.skuId === l.skuId)), ...add.map((l) => ({ skuId: l.skuId, disabledPlans: [...l.disabledPlans] }))];
      return ok(undefined);
    });
  }

  /** Accounts (object ids, lower case) holding a privileged directory role. */
  readonly roleHolders = new Set<string>();

  privilegedRoleHolders(): Promise<GatewayResult<ReadonlySet<string>>> {
    return Promise.resolve(ok(this.roleHolders));
  }
}
