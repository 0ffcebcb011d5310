import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { ErrorNote, Field, formatTime, Loading, Pager, Table, useAction, useLoad, usePager } from '../components/ui';
import { href, navigate, replaceQuery } from '../router';

export function GroupsPage({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }): JSX.Element {
  const q = query.get('q') ?? '';
  const [draft, setDraft] = useState(q);
  const pager = usePager(q);
  const page = useLoad(() => ok(api.GET('/api/groups', { params: { query: { limit: 50, ...(q === '' ? {} : { q }), ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } })), [q, pager.cursor]);
  const [form, setForm] = useState({ name: '', description: '' });
  const create = useAction();
  return (
    <>
      <h1 tabIndex={-1}>Groups</h1>
      <form class="inline-form" role="search" aria-label="Search groups" onSubmit={(e) => { e.preventDefault(); replaceQuery({ q: draft.trim() }); }}>
        <Field label="Search">
          <input name="q" type="search" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        </Field>
        <button type="submit">Search</button>
      </form>
      <ErrorNote message={page.error} />
      {page.data === undefined ? (
        page.loading ? <Loading what="groups" /> : null
      ) : (
        <>
          <Table caption="Groups" head={['Name', 'Description', 'Created']} empty={page.data.items.length === 0 ? 'No group matches.' : undefined}>
            {page.data.items.map((g) => (
              <tr key={g.id}>
                <td><a href={href('groups', g.id)}>{g.name}</a></td>
                <td>{g.description ?? '—'}</td>
                <td>{formatTime(g.createdAt)}</td>
              </tr>
            ))}
          </Table>
          <Pager label="Groups" page={pager.page} nextCursor={page.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
        </>
      )}
      {canWrite ? (
        <section aria-labelledby="new-group">
          <h2 id="new-group">Create a group</h2>
          <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void create.run(async () => { const g = await ok(api.POST('/api/groups', { body: { name: form.name.trim(), ...(form.description.trim() === '' ? {} : { description: form.description.trim() }) } })); navigate(href('groups', g.id)); }); }}>
            <Field label="Name">
              <input name="name" required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
            </Field>
            <Field label="Description">
              <input name="description" value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />
            </Field>
            <button type="submit" class="primary" disabled={create.busy}>Create group</button>
          </form>
          <ErrorNote message={create.error} />
        </section>
      ) : null}
    </>
  );
}
