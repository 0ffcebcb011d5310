import { applySettingsPatch, type ConnectionRecord, type ConnectionSettings, type ConnectionSettingsPatch } from '../connections/connection';
import { holdsAuthorization } from '../connections/connection-state';
import type { Logger } from '../ports/logger';
import type { MessageSender } from '../ports/work-queue';
import { isBound, type UserBindingRecord } from '../provisioning/binding';
import { bumpUnchanged, sendAll } from '../reconcile/binding-nudges';
import { writeDigest, type GuardedChange } from '../reconcile/deactivation-guard';
import { countActiveBindings, preRelease, type PreReleasedWrite } from '../reconcile/store-deactivation-guard';
import { err, ok, type Result } from '../result';
import { planChange, type PlanDeps, type PlanFailure, type PlannedAccount } from './plan-changes';
import { readWholePlan, storePlan, type PlanNotFound, type StoredPlanView } from './stored-plans';

export interface SettingsGuardDeps extends PlanDeps {
  readonly sender: MessageSender;
  readonly logger: Logger;
}

/**
 * What the mass-change guard makes of a settings change. `proceed`: apply it (it writes to no more
 * accounts than the guard allows, or to none). `held`: it would write to more; it is not applied,
 * and its plan is stored for the admin to confirm. `confirmed`: the admin confirmed this plan;
 * apply it, then `releasePlannedWrites`.
 */
export type SettingsGuardOutcome =
  | { readonly kind: 'proceed' }
  | { readonly kind: 'held'; readonly plan: StoredPlanView }
  | { readonly kind: 'confirmed'; readonly plan: StoredPlanView & { readonly accounts: readonly PlannedAccount[] } };

export type SettingsGuardFailure =
  | PlanFailure
  | PlanNotFound
  /** The confirmed plan is not a plan of this settings change. */
  | { readonly code: 'plan_mismatch'; readonly message: string }
  /** The connection changed after the plan was made. */
  | { readonly code: 'plan_stale'; readonly message: string };

/** Settings whose change rewrites existing accounts: which attributes are exported, and whether empty values blank. */
function rewritesAccounts(current: ConnectionSettings, next: ConnectionSettings): boolean {
  const exported = (settings: ConnectionSettings) => [...settings.exportAttributes].sort().join(',');
  return exported(current) !== exported(next) || current.emptyValues !== next.emptyValues;
}

/**
 * Judges a settings change (PATCH /connections/{id}) before it is applied. A change that rewrites
 * existing accounts is planned (the same plan `POST /plan` makes); beyond the connection's
 * `changeGuard` it is held with its plan stored. With `confirmPlan`, the change must be the one
 * that plan was made for, on the connection as it was then.
 */
export async function guardSettingsChange(deps: SettingsGuardDeps, connectionId: string, patch: ConnectionSettingsPatch | undefined, confirmPlan: string | undefined): Promise<Result<SettingsGuardOutcome, SettingsGuardFailure>> {
  const connection = (await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId))?.data;
  // The update itself answers for a missing connection.
  if (connection === undefined) return ok({ kind: 'proceed' });
  if (confirmPlan !== undefined) {
    const plan = await readWholePlan(deps, connectionId, confirmPlan);
    if (!plan.ok) return plan;
    const planned = 'settings' in plan.value.request ? plan.value.request.settings : undefined;
    const same = planned !== undefined && patch !== undefined && JSON.stringify(applySettingsPatch(connection.settings, planned)) === JSON.stringify(applySettingsPatch(connection.settings, patch));
    if (!same) return err({ code: 'plan_mismatch', message: `plan ${confirmPlan} was made for another change; send the settings it planned, or plan this change` });
    if (plan.value.basedOn !== connection.updatedAt) return err({ code: 'plan_stale', message: `connection ${connectionId} changed after plan ${confirmPlan} was made; plan the change again` });
    return ok({ kind: 'confirmed', plan: plan.value });
  }
  if (patch === undefined || !rewritesAccounts(connection.settings, applySettingsPatch(connection.settings, patch))) return ok({ kind: 'proceed' });
  // Nothing can be read from a tenant without authorization; once it is back, the worker's guard counts the writes.
  if (!holdsAuthorization(connection.status) || (await countActiveBindings(deps.store, connectionId)) === 0) return ok({ kind: 'proceed' });
  const request = { settings: patch };
  const plan = await planChange(deps, connectionId, request);
  if (!plan.ok) return plan;
  if (!plan.value.guard.exceeded) return ok({ kind: 'proceed' });
  const stored = await storePlan(deps, request, plan.value);
  deps.logger.warn('settings change held by the mass-change guard: it waits for its plan to be confirmed', { connectionId, planId: stored.id, changing: plan.value.guard.changing, limit: plan.value.guard.limit });
  return ok({ kind: 'held', plan: stored });
}

function guardedChangeOf(account: PlannedAccount): GuardedChange {
  if (account.action === 'disable') return 'deactivate';
  return account.action === 'update' && account.changes.some((c) => c.attribute === 'userPrincipalName') ? 'rename' : 'update';
}

/**
 * After a confirmed settings change is applied: each planned write to an existing account is
 * released in advance (it passes the guard once, if it is still exactly the planned write) and its
 * user nudged, so the worker makes it now rather than at the next reconcile.
 */
export async function releasePlannedWrites(deps: SettingsGuardDeps, connectionId: string, accounts: readonly PlannedAccount[]): Promise<number> {
  const planned = new Map(accounts.filter((a) => a.action !== 'create' && a.m365UserId !== undefined).map((a) => [a.userId, a]));
  const bindings: UserBindingRecord[] = [];
  const ids = [...planned.keys()];
  for (let i = 0; i < ids.length; i += 100) {
    const docs = await deps.store.getMany<UserBindingRecord>('bindings', connectionId, ids.slice(i, i + 100));
    bindings.push(...docs.map((d) => d.data).filter((b) => isBound(b.via)));
  }
  const writes: PreReleasedWrite[] = bindings.map((binding) => {
    const account = planned.get(binding.userId) as PlannedAccount;
    return {
      userId: binding.userId,
      incarnation: binding.incarnation,
      changeSeq: binding.changeSeq,
      m365UserId: account.m365UserId as string,
      change: guardedChangeOf(account),
      attributes: [...account.changes.map((c) => c.attribute), ...(account.passwordSet === true ? ['passwordProfile'] : [])],
      digest: writeDigest(Object.fromEntries(account.changes.map((c) => [c.attribute, c.to])), account.passwordSet === true),
    };
  });
  await preRelease(deps, connectionId, writes);
  const nudged = await sendAll(deps.sender, await bumpUnchanged(deps, bindings, 'reconcile'));
  deps.logger.info('confirmed plan released its writes', { connectionId, released: writes.length, nudged });
  return nudged;
}
