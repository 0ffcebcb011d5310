import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Plan, PlanWarning } from '../api/types';
import { Badge, Table } from './ui';

/** Accounts shown at a time; a plan lists every account something would happen to, in one answer. */
const pageSize = 20;

const warningText: Readonly<Record<PlanWarning, (n: number) => string>> = {
  privileged: (n) => `${n} ${n === 1 ? 'account holds' : 'accounts hold'} a privileged administrator role (or consented the connection): provisioning refuses to change ${n === 1 ? 'it' : 'them'} unless the binding allows it.`,
  blanks_value: (n) => `${n} ${n === 1 ? 'account' : 'accounts'} would have a value blanked in Microsoft 365.`,
  upn_rename: (n) => `${n} ${n === 1 ? 'account' : 'accounts'} would be renamed (a new sign-in name: users sign in with the new one).`,
};

/** A planned value as an admin reads it. */
function shown(value: unknown): string {
  if (value === null || value === undefined || value === '') return '(empty)';
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.length === 0 ? '(empty)' : value.join(', ');
  return JSON.stringify(value);
}

function totalsSentence(totals: Plan['totals']): string {
  const parts = [
    [totals.update, 'updated'],
    [totals.create, 'created'],
    [totals.takeOver, 'taken over'],
    [totals.disable, 'disabled'],
    [totals.passwordSet, 'given their pending password'],
  ] as const;
  const happening = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  const subject = `Of ${totals.users} bound ${totals.users === 1 ? 'user' : 'users'}`;
  return happening.length === 0 ? `${subject}, no account would change in Microsoft 365.` : `${subject}: ${happening.join(', ')}; ${totals.unchanged} unchanged.`;
}

/** The server's plan of a change: totals, warnings and each account that would change, a page at a time. */
export function PlanView({ plan }: { plan: Plan }): JSX.Element {
  const [page, setPage] = useState(0);
  const accounts = plan.accounts;
  const pages = Math.max(1, Math.ceil(accounts.length / pageSize));
  const shownAccounts = accounts.slice(page * pageSize, (page + 1) * pageSize);
  const warnings = (Object.keys(warningText) as PlanWarning[]).filter((w) => plan.warnings[w] > 0);
  return (
    <div class="plan">
      <p>{totalsSentence(plan.totals)}</p>
      {warnings.length === 0 ? null : (
        <ul class="note note-warn plan-warnings">
          {warnings.map((w) => (
            <li key={w}>{warningText[w](plan.warnings[w])}</li>
          ))}
        </ul>
      )}
      {accounts.length === 0 ? null : (
        <>
          <Table caption="Planned account changes" head={['Account', 'Action', 'Changes', 'Warnings']}>
            {shownAccounts.map((a) => (
              <tr key={a.userId}>
                <td>{a.email}</td>
                <td><Badge value={a.action} /></td>
                <td>
                  <ul class="plain changes">
                    {a.changes.map((c) => (
                      <li key={c.attribute}>
                        <span class="mono">{c.attribute}</span>: {shown(c.from)} → {shown(c.to)}
                      </li>
                    ))}
                    {a.passwordSet === true ? <li>password set</li> : null}
                  </ul>
                </td>
                <td>{a.warnings.length === 0 ? '—' : a.warnings.map((w) => w.replace(/_/g, ' ')).join(', ')}</td>
              </tr>
            ))}
          </Table>
          {pages === 1 ? null : (
            <nav class="pager" aria-label="Planned account changes pages">
              <button type="button" onClick={() => setPage(page - 1)} disabled={page === 0}>Previous</button>
              <span aria-live="polite">
                Accounts {page * pageSize + 1}–{page * pageSize + shownAccounts.length} of {accounts.length}
              </span>
              <button type="button" onClick={() => setPage(page + 1)} disabled={page + 1 >= pages}>Next</button>
            </nav>
          )}
        </>
      )}
    </div>
  );
}
