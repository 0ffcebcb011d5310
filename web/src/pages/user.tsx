import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiFailure, ok } from '../api/client';
import type { Connection, User, UserBinding } from '../api/types';
import { loadConnections } from '../components/connections';
import { Badge, Confirm, ErrorNote, Field, formatTime, InfoNote, Loading, Table, useAction, useLoad, usePoll } from '../components/ui';
import { href, navigate } from '../router';

const editable = ['email', 'firstName', 'lastName', 'displayName', 'jobTitle', 'department', 'company', 'employeeId', 'location'] as const;
type Editable = (typeof editable)[number];
const labels: Readonly<Record<Editable, string>> = {
  email: 'Email',
  firstName: 'First name',
  lastName: 'Last name',
  displayName: 'Display name',
  jobTitle: 'Job title',
  department: 'Department',
  company: 'Company',
  employeeId: 'Employee id',
  location: 'Location',
};

function EditUser({ user, canWrite, onSaved }: { user: User; canWrite: boolean; onSaved: (message: string) => void }): JSX.Element {
  const initial = Object.fromEntries(editable.map((k) => [k, user[k] ?? ''])) as Record<Editable, string>;
  const [form, setForm] = useState(initial);
  const action = useAction();
  const submit = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const patch: Record<string, string | null> = {};
      for (const k of editable) {
        const value = form[k].trim();
        if (value !== initial[k]) patch[k] = value === '' && k !== 'email' ? null : value;
      }
      if (Object.keys(patch).length === 0) return onSaved('Nothing changed.');
      await ok(api.PATCH('/api/users/{id}', { params: { path: { id: user.id } }, body: patch as never }));
      onSaved('Saved.');
    });
  };
  return (
    <section aria-labelledby="profile">
      <h2 id="profile">Profile</h2>
      <form onSubmit={submit}>
        <fieldset disabled={!canWrite}>
          <legend class="visually-hidden">Profile</legend>
          <div class="grid">
            {editable.map((k) => (
              <Field label={labels[k]} key={k}>
                {k === 'email' ? (
                  <input name={k} type="email" required value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />
                ) : (
                  <input name={k} value={form[k]} onInput={(e) => setForm({ ...form, [k]: e.currentTarget.value })} />
                )}
              </Field>
            ))}
          </div>
          {canWrite ? (
            <div class="actions">
              <button type="submit" class="primary" disabled={action.busy}>Save profile</button>
            </div>
          ) : null}
        </fieldset>
      </form>
      <ErrorNote message={action.error} />
    </section>
  );
}

function Password({ userId }: { userId: string }): JSX.Element {
  const [password, setPassword] = useState('');
  const action = useAction();
  const [done, setDone] = useState(false);
  return (
    <section aria-labelledby="password">
      <h2 id="password">Password</h2>
      <form class="inline-form" onSubmit={(e) => { e.preventDefault(); setDone(false); void action.run(async () => { await ok(api.PUT('/api/users/{id}/password', { params: { path: { id: userId } }, body: { password } })); setPassword(''); setDone(true); }); }}>
        <Field label="New password">
          <input name="password" type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <button type="submit" disabled={action.busy}>Set password</button>
      </form>
      <ErrorNote message={action.error} />
      {done ? <InfoNote>Password set. Bound accounts get it on their next sync.</InfoNote> : null}
    </section>
  );
}

function Groups({ userId, canWrite }: { userId: string; canWrite: boolean }): JSX.Element {
  const groups = useLoad(() => ok(api.GET('/api/users/{id}/groups', { params: { path: { id: userId } } })), [userId]);
  const [q, setQ] = useState('');
  const [found, setFound] = useState<{ id: string; name: string }[] | undefined>(undefined);
  const action = useAction();
  const member = new Set(groups.data?.items.map((g) => g.id));
  return (
    <section aria-labelledby="groups">
      <h2 id="groups">Groups</h2>
      <ErrorNote message={groups.error ?? action.error} />
      {groups.data === undefined ? null : groups.data.items.length === 0 ? <p class="muted">Not a member of any group.</p> : (
        <ul class="plain">
          {groups.data.items.map((g) => (
            <li key={g.id}>
              <a href={href('groups', g.id)}>{g.name}</a>
              {canWrite ? (
                <button type="button" class="small" onClick={() => void action.run(async () => { await ok(api.DELETE('/api/groups/{id}/members/{userId}', { params: { path: { id: g.id, userId } } })); groups.reload(); })}>
                  Remove from {g.name}
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {canWrite ? (
        <>
          <form class="inline-form" role="search" aria-label="Find a group to add the user to" onSubmit={(e) => { e.preventDefault(); void action.run(async () => setFound((await ok(api.GET('/api/groups', { params: { query: { limit: 10, ...(q.trim() === '' ? {} : { q: q.trim() }) } } }))).items)); }}>
            <Field label="Find a group">
              <input name="groupQuery" type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
            </Field>
            <button type="submit">Find</button>
          </form>
          {found === undefined ? null : found.length === 0 ? <p class="muted">No group matches.</p> : (
            <ul class="plain">
              {found.map((g) => (
                <li key={g.id}>
                  {g.name}{' '}
                  <button type="button" class="small" disabled={member.has(g.id)} onClick={() => void action.run(async () => { await ok(api.PUT('/api/groups/{id}/members/{userId}', { params: { path: { id: g.id, userId } } })); groups.reload(); })}>
                    {member.has(g.id) ? 'Member' : `Add to ${g.name}`}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      ) : null}
    </section>
  );
}

async function bindingsOf(userId: string): Promise<{ connection: Connection; binding: UserBinding | undefined }[]> {
  const connections = await loadConnections();
  return Promise.all(
    connections.map(async (connection) => {
      try {
        return { connection, binding: await ok(api.GET('/api/connections/{id}/users/{userId}', { params: { path: { id: connection.id, userId } } })) };
      } catch (failure) {
        if (failure instanceof ApiFailure && failure.status === 404) return { connection, binding: undefined };
        throw failure;
      }
    }),
  );
}

function Bindings({ userId, canWrite }: { userId: string; canWrite: boolean }): JSX.Element {
  const rows = useLoad(() => bindingsOf(userId), [userId]);
  const action = useAction();
  // A binding changes in the background: look again every second while one is pending, every 2 s while one is bound.
  const pending = rows.data?.some((r) => r.binding?.state === 'pending') === true;
  const bound = rows.data?.some((r) => r.binding?.bound === true) === true;
  usePoll(pending || bound, rows.reload, pending ? 1000 : 2000);
  return (
    <section aria-labelledby="bindings">
      <h2 id="bindings">Microsoft 365 bindings</h2>
      <ErrorNote message={rows.error ?? action.error} />
      {rows.data === undefined ? <Loading what="bindings" /> : (
        <Table caption="Bindings of this user" head={['Connection', 'State', 'Microsoft 365 object id', 'Last error', 'Attempts', 'Last sync', 'Action']} empty={rows.data.length === 0 ? 'No connection.' : undefined}>
          {rows.data.map(({ connection, binding }) => {
            const bound = binding?.bound === true;
            return (
              <tr key={connection.id}>
                <td><a href={href('connections', connection.id)}>{connection.name}</a></td>
                <td>{binding === undefined ? 'not bound' : <><Badge value={binding.state} />{binding.bound ? null : <span class="muted"> unbound</span>}{binding.via.groups.length > 0 ? <span class="muted"> through {binding.via.groups.length} group(s)</span> : null}</>}</td>
                <td class="mono">{binding?.m365UserId ?? '—'}</td>
                <td>{binding?.lastError === undefined ? (binding?.note ?? '—') : `${binding.lastError.code}: ${binding.lastError.message}`}</td>
                <td>{binding?.attempts ?? '—'}</td>
                <td>{formatTime(binding?.lastSyncedAt)}</td>
                <td>
                  {!canWrite ? '—' : bound ? (
                    <button type="button" disabled={action.busy || binding?.via.direct !== true} title={binding?.via.direct === true ? undefined : 'Bound through a group: unbind the group instead'} onClick={() => void action.run(async () => { await ok(api.DELETE('/api/connections/{id}/users/{userId}', { params: { path: { id: connection.id, userId } } })); rows.reload(); })}>
                      Unbind from {connection.name}
                    </button>
                  ) : connection.status === 'active' || connection.status === 'sync_paused' ? (
                    <button type="button" disabled={action.busy} onClick={() => void action.run(async () => { await ok(api.PUT('/api/connections/{id}/users/{userId}', { params: { path: { id: connection.id, userId } } })); rows.reload(); })}>
                      Bind to {connection.name}
                    </button>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            );
          })}
        </Table>
      )}
    </section>
  );
}

export function UserPage({ id, canWrite }: { id: string; canWrite: boolean }): JSX.Element {
  const user = useLoad(() => ok(api.GET('/api/users/{id}', { params: { path: { id } } })), [id]);
  const action = useAction();
  const [message, setMessage] = useState<string | undefined>(undefined);
  const [deleting, setDeleting] = useState(false);
  const u = user.data;
  if (u === undefined) return <>{user.error === undefined ? <Loading what="the user" /> : <><h1 tabIndex={-1}>User</h1><ErrorNote message={user.error} /></>}</>;
  const toggle = (): void =>
    void action.run(async () => {
      if (u.state === 'active') await ok(api.POST('/api/users/{id}/suspend', { params: { path: { id: u.id } } }));
      else await ok(api.POST('/api/users/{id}/activate', { params: { path: { id: u.id } } }));
      setMessage(u.state === 'active' ? 'Suspended: bound accounts are disabled.' : 'Activated: bound accounts are enabled.');
      user.reload();
    });
  return (
    <>
      <p><a href={href('users')}>All users</a></p>
      <h1 tabIndex={-1}>{u.displayName}</h1>
      <p>
        {u.email} · <Badge value={u.state} /> · created {formatTime(u.createdAt)}
      </p>
      {message === undefined ? null : <InfoNote>{message}</InfoNote>}
      <ErrorNote message={action.error} />
      {canWrite ? (
        <div class="actions">
          <button type="button" disabled={action.busy} onClick={toggle}>{u.state === 'active' ? 'Suspend' : 'Activate'}</button>
          <button type="button" class="danger" onClick={() => setDeleting(true)}>Delete</button>
        </div>
      ) : null}
      {deleting ? (
        <Confirm title={`Delete ${u.displayName}?`} confirmLabel="Delete" danger busy={action.busy} error={action.error} onCancel={() => setDeleting(false)} onConfirm={() => void action.run(async () => { await ok(api.DELETE('/api/users/{id}', { params: { path: { id: u.id } } })); navigate(href('users')); })}>
          <p>The user leaves every group; bound Microsoft 365 accounts are deactivated.</p>
        </Confirm>
      ) : null}
      <Bindings key={`${u.updatedAt}`} userId={u.id} canWrite={canWrite} />
      <EditUser key={u.updatedAt} user={u} canWrite={canWrite} onSaved={(m) => { setMessage(m); user.reload(); }} />
      {canWrite ? <Password userId={u.id} /> : null}
      <Groups userId={u.id} canWrite={canWrite} />
    </>
  );
}
