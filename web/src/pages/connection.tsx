import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import type { BindingCounts, Connection, ConnectionSettings, ExportAttribute, Plan } from '../api/types';
import { PlanView } from '../components/plan';
import { Badge, Confirm, DirectoryLink, ErrorNote, Field, formatTime, InfoNote, Loading, messageOf, Pager, Table, useAction, useLoad, usePager } from '../components/ui';
import { href, navigate } from '../router';
import { startConsent } from './connections';

const exportAttributes = ['alternateEmail', 'businessPhones', 'mobilePhone', 'address', 'department', 'jobTitle', 'manager', 'location', 'company', 'employeeId', 'employeeType', 'costCenter', 'usageLocation'] as const satisfies readonly ExportAttribute[];
// The build fails here when the API gains an export attribute this form does not offer.
const everyAttributeOffered: Exclude<ExportAttribute, (typeof exportAttributes)[number]> extends never ? true : never = true;
void everyAttributeOffered;
const bindingStates = ['pending', 'provisioned', 'error', 'deprovisioned'] as const;

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

interface SettingsDraft {
  readonly name: string;
  readonly exportAttributes: readonly ExportAttribute[];
  readonly conflictPolicy: 'fail' | 'link';
  readonly deletedAccountPolicy: 'recreate' | 'error';
  readonly usageLocation: string;
  readonly deprovisionAction: 'disable' | 'disable_then_delete';
  readonly deleteAfterDays: string;
  readonly revokeSessionsOnDeprovision: boolean;
  readonly emptyValues: 'keep' | 'clear';
  readonly changeNotifications: boolean;
  readonly maxUsers: string;
  readonly maxPercent: string;
  readonly changeMaxUsers: string;
  readonly changeMaxPercent: string;
  readonly deleteGroupOnUnbind: boolean;
}

function draftOf(c: Connection): SettingsDraft {
  const s: ConnectionSettings = c.settings;
  return {
    name: c.name,
    exportAttributes: s.exportAttributes ?? [],
    conflictPolicy: s.conflictPolicy ?? 'fail',
    deletedAccountPolicy: s.deletedAccountPolicy ?? 'recreate',
    usageLocation: s.usageLocation ?? '',
    deprovisionAction: s.deprovisionAction ?? 'disable',
    deleteAfterDays: String(s.deleteAfterDays ?? 30),
    revokeSessionsOnDeprovision: s.revokeSessionsOnDeprovision ?? true,
    emptyValues: s.emptyValues ?? 'keep',
    changeNotifications: s.changeNotifications ?? true,
    maxUsers: String(s.deactivationGuard?.maxUsers ?? 500),
    maxPercent: String(s.deactivationGuard?.maxPercent ?? 10),
    changeMaxUsers: String(s.changeGuard?.maxUsers ?? 500),
    changeMaxPercent: String(s.changeGuard?.maxPercent ?? 10),
    deleteGroupOnUnbind: s.deleteGroupOnUnbind ?? false,
  };
}

/** What saving would change, in words, and the PATCH body that does it (only the fields that change). */
function planOf(before: SettingsDraft, after: SettingsDraft): { lines: string[]; body: Record<string, unknown> } {
  const lines: string[] = [];
  const settings: Record<string, unknown> = {};
  const body: Record<string, unknown> = {};
  if (after.name.trim() !== before.name) {
    lines.push(`Rename the connection from “${before.name}” to “${after.name.trim()}”.`);
    body.name = after.name.trim();
  }
  const added = after.exportAttributes.filter((a) => !before.exportAttributes.includes(a));
  const removed = before.exportAttributes.filter((a) => !after.exportAttributes.includes(a));
  if (added.length > 0 || removed.length > 0) {
    if (added.length > 0) lines.push(`Start writing ${added.join(', ')} to Microsoft 365 for every bound user (each account is updated once).`);
    if (removed.length > 0) lines.push(`Stop writing ${removed.join(', ')} (values already in Microsoft 365 stay).`);
    settings.exportAttributes = after.exportAttributes;
  }
  if (after.conflictPolicy !== before.conflictPolicy) {
    lines.push(after.conflictPolicy === 'link' ? 'Imports link an account whose email a directory user already has, instead of failing it.' : 'Imports fail an account whose email a directory user already has.');
    settings.conflictPolicy = after.conflictPolicy;
  }
  if (after.deletedAccountPolicy !== before.deletedAccountPolicy) {
    lines.push(after.deletedAccountPolicy === 'recreate' ? 'An account deleted in Microsoft 365 is created again.' : 'An account deleted in Microsoft 365 puts its binding in error.');
    settings.deletedAccountPolicy = after.deletedAccountPolicy;
  }
  if (after.usageLocation.trim().toUpperCase() !== before.usageLocation) {
    const value = after.usageLocation.trim().toUpperCase();
    lines.push(value === '' ? 'Created accounts get no usage location.' : `Created accounts get usage location ${value}.`);
    settings.usageLocation = value === '' ? null : value;
  }
  if (after.deprovisionAction !== before.deprovisionAction || (after.deprovisionAction === 'disable_then_delete' && after.deleteAfterDays !== before.deleteAfterDays)) {
    lines.push(
      after.deprovisionAction === 'disable'
        ? 'Deprovisioned accounts are only disabled, never deleted.'
        : `Deprovisioned accounts are deleted after ${after.deleteAfterDays} days disabled (Microsoft 365 keeps a deleted account restorable for 30 days).`,
    );
    settings.deprovisionAction = after.deprovisionAction;
    if (after.deprovisionAction === 'disable_then_delete') settings.deleteAfterDays = Number(after.deleteAfterDays);
  }
  if (after.revokeSessionsOnDeprovision !== before.revokeSessionsOnDeprovision) {
    lines.push(after.revokeSessionsOnDeprovision ? 'Deprovisioning also signs the account out everywhere.' : 'Deprovisioning no longer signs the account out.');
    settings.revokeSessionsOnDeprovision = after.revokeSessionsOnDeprovision;
  }
  if (after.emptyValues !== before.emptyValues) {
    lines.push(after.emptyValues === 'clear' ? 'An attribute empty in the directory is blanked in Microsoft 365 for every bound user.' : 'An attribute empty in the directory leaves the Microsoft 365 value as it is.');
    settings.emptyValues = after.emptyValues;
  }
  if (after.changeNotifications !== before.changeNotifications) {
    lines.push(after.changeNotifications ? 'Changes made in Microsoft 365 are corrected within seconds (change notifications).' : 'Changes made in Microsoft 365 wait for the reconcile timer.');
    settings.changeNotifications = after.changeNotifications;
  }
  if (after.maxUsers !== before.maxUsers || after.maxPercent !== before.maxPercent) {
    lines.push(`Hold deactivations beyond ${after.maxUsers} users or ${after.maxPercent}% of the bound users in an hour (was ${before.maxUsers} / ${before.maxPercent}%).`);
    settings.deactivationGuard = { maxUsers: Number(after.maxUsers), maxPercent: Number(after.maxPercent) };
  }
  if (after.changeMaxUsers !== before.changeMaxUsers || after.changeMaxPercent !== before.changeMaxPercent) {
    lines.push(`Hold writes to existing accounts beyond ${after.changeMaxUsers} users or ${after.changeMaxPercent}% of the bound users in an hour (was ${before.changeMaxUsers} / ${before.changeMaxPercent}%).`);
    settings.changeGuard = { maxUsers: Number(after.changeMaxUsers), maxPercent: Number(after.changeMaxPercent) };
  }
  if (after.deleteGroupOnUnbind !== before.deleteGroupOnUnbind) {
    lines.push(after.deleteGroupOnUnbind ? 'Unbinding a group deletes its Microsoft 365 group.' : 'Unbinding a group leaves its Microsoft 365 group as it is.');
    settings.deleteGroupOnUnbind = after.deleteGroupOnUnbind;
  }
  if (Object.keys(settings).length > 0) body.settings = settings;
  return { lines, body };
}

/** The server's plan of a settings change, while it is asked for and once it answers. */
type PlanState =
  | { readonly state: 'planning' }
  | { readonly state: 'ready'; readonly plan: Plan; readonly note?: string }
  | { readonly state: 'failed'; readonly message: string }
  | { readonly state: 'none'; readonly why: string };

function SettingsForm({ connection, canWrite, onSaved }: { connection: Connection; canWrite: boolean; onSaved: () => void }): JSX.Element {
  const saved = draftOf(connection);
  const [draft, setDraft] = useState<SettingsDraft>(saved);
  const [review, setReview] = useState<ReturnType<typeof planOf> | undefined>(undefined);
  const [plan, setPlan] = useState<PlanState>({ state: 'planning' });
  const action = useAction();
  const set = (patch: Partial<SettingsDraft>): void => setDraft((d) => ({ ...d, ...patch }));
  const askPlan = (settings: Record<string, unknown>, note?: string): void => {
    setPlan({ state: 'planning' });
    // The service plans the change against the tenant as it is now, account by account, writing nothing.
    ok(api.POST('/api/connections/{id}/plan', { params: { path: { id: connection.id } }, body: { settings } as never })).then(
      (answer) => setPlan({ state: 'ready', plan: answer, ...(note === undefined ? {} : { note }) }),
      (error: unknown) => setPlan({ state: 'failed', message: messageOf(error) }),
    );
  };
  const submit = (event: Event): void => {
    event.preventDefault();
    const next = planOf(saved, draft);
    setReview(next);
    const settings = next.body.settings as Record<string, unknown> | undefined;
    if (settings === undefined) setPlan({ state: 'none', why: 'No account in Microsoft 365 changes.' });
    else if (connection.status !== 'active' && connection.status !== 'sync_paused') setPlan({ state: 'none', why: 'The connection is not authorized: nothing is written to Microsoft 365 until it is.' });
    else askPlan(settings);
  };
  /** Saves; a plan beyond the change guard is confirmed by its id, as the admin has just reviewed it. */
  const save = async (change: ReturnType<typeof planOf>): Promise<void> => {
    const confirmPlan = plan.state === 'ready' && plan.plan.guard.exceeded ? plan.plan.id : undefined;
    const answer = await api.PATCH('/api/connections/{id}', { params: { path: { id: connection.id }, query: confirmPlan === undefined ? {} : { confirmPlan } }, body: change.body as never });
    if (answer.response.status === 409) {
      const held = answer.error as { plan?: { id: string } } | undefined;
      const settings = change.body.settings as Record<string, unknown> | undefined;
      // Beyond the guard (planned meanwhile), or the plan reviewed is out of date: review the service's plan again.
      if (settings !== undefined && (held?.plan !== undefined || confirmPlan !== undefined)) {
        askPlan(settings, held?.plan !== undefined ? 'The mass-change guard held this change: nothing was saved. Review its plan, then confirm.' : 'The connection changed since this plan was made: here is a new one.');
        return;
      }
    }
    await ok(Promise.resolve(answer));
    setReview(undefined);
    onSaved();
  };
  return (
    <section aria-labelledby="settings">
      <h2 id="settings">Settings</h2>
      <form class="settings" onSubmit={submit}>
        <fieldset disabled={!canWrite}>
          <legend class="visually-hidden">Connection settings</legend>
          <Field label="Name">
            <input name="name" required maxLength={128} value={draft.name} onInput={(e) => set({ name: e.currentTarget.value })} />
          </Field>
          <fieldset class="checks">
            <legend>Export rules: attributes written to Microsoft 365</legend>
            {exportAttributes.map((a) => (
              <label key={a} class="check">
                <input
                  type="checkbox"
                  checked={draft.exportAttributes.includes(a)}
                  onChange={(e) => set({ exportAttributes: e.currentTarget.checked ? [...draft.exportAttributes, a] : draft.exportAttributes.filter((x) => x !== a) })}
                />
                {a}
              </label>
            ))}
          </fieldset>
          <div class="grid">
            <Field label="When an imported email exists">
              <select value={draft.conflictPolicy} onChange={(e) => set({ conflictPolicy: e.currentTarget.value as SettingsDraft['conflictPolicy'] })}>
                <option value="fail">Fail that account</option>
                <option value="link">Link it to the directory user</option>
              </select>
            </Field>
            <Field label="When an account is deleted in Microsoft 365">
              <select value={draft.deletedAccountPolicy} onChange={(e) => set({ deletedAccountPolicy: e.currentTarget.value as SettingsDraft['deletedAccountPolicy'] })}>
                <option value="recreate">Create it again</option>
                <option value="error">Show the binding in error</option>
              </select>
            </Field>
            <Field label="Usage location" hint="Two-letter country code, e.g. US">
              <input name="usageLocation" maxLength={2} value={draft.usageLocation} onInput={(e) => set({ usageLocation: e.currentTarget.value })} />
            </Field>
            <Field label="Deprovisioning">
              <select value={draft.deprovisionAction} onChange={(e) => set({ deprovisionAction: e.currentTarget.value as SettingsDraft['deprovisionAction'] })}>
                <option value="disable">Disable the account</option>
                <option value="disable_then_delete">Disable, then delete after a while</option>
              </select>
            </Field>
            {draft.deprovisionAction === 'disable_then_delete' ? (
              <Field label="Days disabled before deletion">
                <input name="deleteAfterDays" type="number" min={1} max={3650} required value={draft.deleteAfterDays} onInput={(e) => set({ deleteAfterDays: e.currentTarget.value })} />
              </Field>
            ) : null}
            <Field label="A value empty in the directory">
              <select value={draft.emptyValues} onChange={(e) => set({ emptyValues: e.currentTarget.value as SettingsDraft['emptyValues'] })}>
                <option value="keep">Keeps the Microsoft 365 value</option>
                <option value="clear">Clears the Microsoft 365 value</option>
              </select>
            </Field>
            <Field label="Guard: most users deactivated per hour">
              <input name="maxUsers" type="number" min={0} max={1000000} required value={draft.maxUsers} onInput={(e) => set({ maxUsers: e.currentTarget.value })} />
            </Field>
            <Field label="Guard: most percent of bound users per hour">
              <input name="maxPercent" type="number" min={0} max={100} step="any" required value={draft.maxPercent} onInput={(e) => set({ maxPercent: e.currentTarget.value })} />
            </Field>
            <Field label="Guard: most accounts rewritten per hour" hint="Attribute writes, renames and passwords of existing accounts">
              <input name="changeMaxUsers" type="number" min={0} max={1000000} required value={draft.changeMaxUsers} onInput={(e) => set({ changeMaxUsers: e.currentTarget.value })} />
            </Field>
            <Field label="Guard: most percent of bound users rewritten per hour">
              <input name="changeMaxPercent" type="number" min={0} max={100} step="any" required value={draft.changeMaxPercent} onInput={(e) => set({ changeMaxPercent: e.currentTarget.value })} />
            </Field>
          </div>
          <div class="checks-column">
            <label class="check">
              <input type="checkbox" checked={draft.revokeSessionsOnDeprovision} onChange={(e) => set({ revokeSessionsOnDeprovision: e.currentTarget.checked })} />
              Sign a deprovisioned account out everywhere
            </label>
            <label class="check">
              <input type="checkbox" checked={draft.changeNotifications} onChange={(e) => set({ changeNotifications: e.currentTarget.checked })} />
              Correct changes made in Microsoft 365 within seconds (change notifications)
            </label>
            <label class="check">
              <input type="checkbox" checked={draft.deleteGroupOnUnbind} onChange={(e) => set({ deleteGroupOnUnbind: e.currentTarget.checked })} />
              Delete a group's Microsoft 365 group when the group is unbound
            </label>
          </div>
          {canWrite ? (
            <div class="actions">
              <button type="submit" class="primary">
                Review changes
              </button>
            </div>
          ) : null}
        </fieldset>
      </form>
      {review === undefined ? null : (
        <Confirm
          title="Save these changes?"
          confirmLabel={plan.state === 'ready' && plan.plan.guard.exceeded ? 'Confirm the plan and save' : 'Save'}
          wide
          busy={action.busy || plan.state === 'planning'}
          error={action.error}
          onCancel={() => {
            setReview(undefined);
            action.clear();
          }}
          onConfirm={() =>
            void action.run(async () => {
              if (review.lines.length > 0) await save(review);
              else setReview(undefined);
            })
          }
        >
          <h3>Settings</h3>
          {review.lines.length === 0 ? <p>Nothing changes.</p> : <ul>{review.lines.map((line) => <li key={line}>{line}</li>)}</ul>}
          <h3>Accounts in Microsoft 365</h3>
          {plan.state === 'planning' ? (
            <p class="muted" role="status">Planning against the tenant…</p>
          ) : plan.state === 'ready' ? (
            <>
              {plan.note === undefined ? null : <p class="note note-info" role="status">{plan.note}</p>}
              {plan.plan.guard.exceeded ? (
                <p class="note note-warn" role="alert">
                  This writes to {plural(plan.plan.guard.changing, 'existing account', 'existing accounts')}, more than the change guard allows ({plan.plan.guard.limit}). Saving confirms this plan: exactly these writes are made now.
                </p>
              ) : null}
              <PlanView plan={plan.plan} />
            </>
          ) : plan.state === 'failed' ? (
            <p class="note note-warn" role="alert">The service could not plan this change: {plan.message} Saving still applies it; each account is then changed as its binding next runs.</p>
          ) : (
            <p>{plan.why}</p>
          )}
        </Confirm>
      )}
    </section>
  );
}

function Bindings({ connectionId }: { connectionId: string }): JSX.Element {
  const [state, setState] = useState<string>('');
  const pager = usePager(state);
  const page = useLoad(
    () => ok(api.GET('/api/connections/{id}/users', { params: { path: { id: connectionId }, query: { limit: 25, ...(state === '' ? {} : { state: state as (typeof bindingStates)[number] }), ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } })),
    [connectionId, state, pager.cursor],
  );
  return (
    <section aria-labelledby="bindings">
      <h2 id="bindings">User bindings</h2>
      <Field label="State">
        <select value={state} onChange={(e) => setState(e.currentTarget.value)}>
          <option value="">Any</option>
          {bindingStates.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
      </Field>
      <ErrorNote message={page.error} />
      {page.data === undefined ? null : (
        <>
          <Table caption="User bindings" head={['User', 'State', 'Microsoft 365 object id', 'Last error', 'Attempts', 'Last sync']} empty={page.data.items.length === 0 ? 'No binding.' : undefined}>
            {page.data.items.map((b) => (
              <tr key={b.userId}>
                <td><DirectoryLink page="users" id={b.userId} label={b.user?.email} detail={b.user?.displayName} /></td>
                <td><Badge value={b.state} /></td>
                <td class="mono">{b.m365UserId ?? '—'}</td>
                <td>{b.lastError === undefined ? '—' : `${b.lastError.code}: ${b.lastError.message}`}</td>
                <td>{b.attempts}</td>
                <td>{formatTime(b.lastSyncedAt)}</td>
              </tr>
            ))}
          </Table>
          <Pager label="User bindings" page={pager.page} nextCursor={page.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
        </>
      )}
    </section>
  );
}

export function ConnectionPage({ id, canWrite }: { id: string; canWrite: boolean }): JSX.Element {
  const connection = useLoad(() => ok(api.GET('/api/connections/{id}', { params: { path: { id } } })), [id]);
  const [deauthorizing, setDeauthorizing] = useState<BindingCounts | undefined>(undefined);
  const [deleting, setDeleting] = useState(false);
  const action = useAction();
  const [done, setDone] = useState<string | undefined>(undefined);
  const c = connection.data;
  if (c === undefined) return <>{connection.error === undefined ? <Loading what="the connection" /> : <><h1 tabIndex={-1}>Connection</h1><ErrorNote message={connection.error} /></>}</>;
  const canConsent = c.status !== 'active' && c.status !== 'sync_paused';
  return (
    <>
      <p><a href={href('connections')}>All connections</a></p>
      <h1 tabIndex={-1}>{c.name}</h1>
      <dl class="facts">
        <dt>Status</dt><dd><Badge value={c.status} /></dd>
        <dt>Tenant</dt><dd>{c.tenantName === undefined ? '—' : `${c.tenantName} (${c.tenantId ?? ''})`}</dd>
        <dt>Domains</dt><dd>{c.domains.join(', ') || '—'}</dd>
        <dt>Consented by</dt><dd>{c.consentedBy === undefined ? '—' : `${c.consentedBy.upn}, ${formatTime(c.consentedAt)}`}</dd>
      </dl>
      {c.reauthorization === undefined ? null : <p class="note note-error" role="alert">A Global Administrator must consent again: {c.reauthorization.reason} ({c.reauthorization.code}).</p>}
      {c.deactivationHold === undefined ? null : (
        <p class="note note-warn" role="alert">
          Sync is paused: the guard holds {c.deactivationHold.count} changes since {formatTime(c.deactivationHold.since)}. <a href={href('held', { c: c.id })}>Review the held changes</a>.
        </p>
      )}
      {done === undefined ? null : <InfoNote>{done}</InfoNote>}
      <ErrorNote message={action.error} />
      {canWrite ? (
        <div class="actions">
          {canConsent ? (
            <button type="button" class="primary" disabled={action.busy} onClick={() => void action.run(() => startConsent(c.id))}>
              {c.status === 'pending_consent' ? 'Connect' : 'Re-consent'}
            </button>
          ) : null}
          {c.status === 'active' || c.status === 'sync_paused' || c.status === 'reauthorization_required' ? (
            <button type="button" class="danger" disabled={action.busy} onClick={() => void action.run(async () => setDeauthorizing(await ok(api.GET('/api/connections/{id}/binding-counts', { params: { path: { id: c.id } } }))))}>
              De-authorize
            </button>
          ) : (
            <button type="button" class="danger" onClick={() => setDeleting(true)}>
              Delete
            </button>
          )}
        </div>
      ) : null}
      {deauthorizing === undefined ? null : (
        <Confirm
          title={`De-authorize ${c.name}?`}
          confirmLabel="De-authorize"
          danger
          busy={action.busy}
          error={action.error}
          onCancel={() => setDeauthorizing(undefined)}
          onConfirm={() =>
            void action.run(async () => {
              const result = await ok(api.DELETE('/api/connections/{id}/authorization', { params: { path: { id: c.id } } }));
              setDeauthorizing(undefined);
              setDone(`De-authorized: ${plural(result.unboundUsers, 'user binding', 'user bindings')} removed.`);
              connection.reload();
            })
          }
        >
          <p>
            This removes {plural(deauthorizing.users.total, 'user binding', 'user bindings')} and {plural(deauthorizing.groups, 'group binding', 'group bindings')}, and deletes the connection's tokens. Nothing is changed in
            Microsoft 365: the accounts stay as they are. Connecting again needs a Global Administrator's consent.
          </p>
        </Confirm>
      )}
      {deleting ? (
        <Confirm
          title={`Delete ${c.name}?`}
          confirmLabel="Delete"
          danger
          busy={action.busy}
          error={action.error}
          onCancel={() => setDeleting(false)}
          onConfirm={() =>
            void action.run(async () => {
              await ok(api.DELETE('/api/connections/{id}', { params: { path: { id: c.id } } }));
              navigate(href('connections'));
            })
          }
        >
          <p>The connection record goes; it holds no tokens and no bindings.</p>
        </Confirm>
      ) : null}
      <SettingsForm key={c.updatedAt} connection={c} canWrite={canWrite} onSaved={() => { setDone('Settings saved.'); connection.reload(); }} />
      <Bindings connectionId={c.id} />
    </>
  );
}
