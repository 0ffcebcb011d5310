import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { Badge, ErrorNote, Field, Loading, Pager, Table, useAction, useLoad, usePager } from '../components/ui';
import { href, navigate, replaceQuery } from '../router';

function NewUser(): JSX.Element {
  const [form, setForm] = useState({ email: '', firstName: '', lastName: '', jobTitle: '', department: '' });
  const action = useAction();
  const submit = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const body = Object.fromEntries(Object.entries(form).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()])) as { email: string };
      const user = await ok(api.POST('/api/users', { body }));
      navigate(href('users', user.id));
    });
  };
  const input = (name: keyof typeof form, label: string): JSX.Element => (
    <Field label={label}>
      {name === 'email' ? (
        <input name={name} type="email" required value={form[name]} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} />
      ) : (
        <input name={name} value={form[name]} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} />
      )}
    </Field>
  );
  return (
    <section aria-labelledby="new-user">
      <h2 id="new-user">Create a user</h2>
      <form class="inline-form" onSubmit={submit}>
        {input('email', 'Email')}
        {input('firstName', 'First name')}
        {input('lastName', 'Last name')}
        {input('jobTitle', 'Job title')}
        {input('department', 'Department')}
        <button type="submit" class="primary" disabled={action.busy}>
          Create user
        </button>
      </form>
      <ErrorNote message={action.error} />
    </section>
  );
}

export function UsersPage({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }): JSX.Element {
  const q = query.get('q') ?? '';
  const state = query.get('state') ?? '';
  const [draft, setDraft] = useState(q);
  const pager = usePager(`${q}:${state}`);
  const page = useLoad(
    () => ok(api.GET('/api/users', { params: { query: { limit: 50, ...(q === '' ? {} : { q }), ...(state === 'active' || state === 'suspended' ? { state } : {}), ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } })),
    [q, state, pager.cursor],
  );
  return (
    <>
      <h1 tabIndex={-1}>Users</h1>
      <form class="inline-form" role="search" aria-label="Search users" onSubmit={(e) => { e.preventDefault(); replaceQuery({ q: draft.trim(), state }); }}>
        <Field label="Search">
          <input name="q" type="search" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        </Field>
        <Field label="State">
          <select value={state} onChange={(e) => replaceQuery({ q, state: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="active">active</option>
            <option value="suspended">suspended</option>
          </select>
        </Field>
        <button type="submit">Search</button>
      </form>
      <ErrorNote message={page.error} />
      {page.data === undefined ? (
        page.loading ? <Loading what="users" /> : null
      ) : (
        <>
          <Table caption="Users" head={['Name', 'Email', 'Job title', 'State']} empty={page.data.items.length === 0 ? 'No user matches.' : undefined}>
            {page.data.items.map((u) => (
              <tr key={u.id}>
                <td><a href={href('users', u.id)}>{u.displayName}</a></td>
                <td>{u.email}</td>
                <td>{u.jobTitle ?? '—'}</td>
                <td><Badge value={u.state} /></td>
              </tr>
            ))}
          </Table>
          <Pager label="Users" page={pager.page} nextCursor={page.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
        </>
      )}
      {canWrite ? <NewUser /> : null}
    </>
  );
}
