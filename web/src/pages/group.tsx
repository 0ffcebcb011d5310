import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ApiFailure, ok } from '../api/client';
import type { Connection, Group, GroupBinding } from '../api/types';
import { loadConnections } from '../components/connections';
import { Badge, Confirm, ErrorNote, Field, formatTime, InfoNote, Loading, Pager, Table, useAction, useLoad, usePager, usePoll } from '../components/ui';
import { href, navigate } from '../router';

async function groupBindingsOf(groupId: string): Promise<{ connection: Connection; binding: GroupBinding | undefined }[]> {
  const connections = await loadConnections();
  return Promise.all(
    connections.map(async (connection) => {
      try {
        return { connection, binding: await ok(api.GET('/api/connections/{id}/groups/{groupId}', { params: { path: { id: connection.id, groupId } } })) };
      } catch (failure) {
        if (failure instanceof ApiFailure && failure.status === 404) return { connection, binding: undefined };
        throw failure;
      }
    }),
  );
}

function Bindings({ groupId, canWrite }: { groupId: string; canWrite: boolean }): JSX.Element {
  const rows = useLoad(() => groupBindingsOf(groupId), [groupId]);
  const action = useAction();
  usePoll(rows.data?.some((r) => r.binding !== undefined && (r.binding.expansion !== 'bound' || r.binding.m365Group?.state === 'pending')) === true, rows.reload);
  return (
    <section aria-labelledby="group-bindings">
      <h2 id="group-bindings">Microsoft 365 bindings</h2>
      <ErrorNote message={rows.error ?? action.error} />
      {rows.data === undefined ? <Loading what="bindings" /> : (
        <Table caption="Bindings of this group" head={['Connection', 'Binding', 'Members bound', 'Members skipped', 'Security group', 'Group object id', 'Last error', 'Last sync', 'Action']} empty={rows.data.length === 0 ? 'No connection.' : undefined}>
          {rows.data.map(({ connection, binding }) => (
            <tr key={connection.id}>
              <td><a href={href('connections', connection.id)}>{connection.name}</a></td>
              <td>{binding === undefined ? 'not bound' : <Badge value={binding.expansion} />}</td>
              <td>{binding?.boundMembers ?? '—'}</td>
              <td>{binding?.skippedMembers ?? '—'}</td>
              <td>{binding?.m365Group === undefined ? '—' : <Badge value={binding.m365Group.state} />}</td>
              <td class="mono">{binding?.m365Group?.m365GroupId ?? '—'}</td>
              <td>{binding?.m365Group?.lastError === undefined ? '—' : `${binding.m365Group.lastError.code}: ${binding.m365Group.lastError.message} (${binding.m365Group.attempts} attempts)`}</td>
              <td>{formatTime(binding?.m365Group?.lastSyncedAt)}</td>
              <td>
                {!canWrite ? '—' : binding !== undefined && binding.expansion !== 'unbinding' ? (
                  <button type="button" disabled={action.busy} onClick={() => void action.run(async () => { await ok(api.DELETE('/api/connections/{id}/groups/{groupId}', { params: { path: { id: connection.id, groupId } } })); rows.reload(); })}>
                    Unbind from {connection.name}
                  </button>
                ) : binding === undefined && (connection.status === 'active' || connection.status === 'sync_paused') ? (
                  <button type="button" disabled={action.busy} onClick={() => void action.run(async () => { await ok(api.PUT('/api/connections/{id}/groups/{groupId}', { params: { path: { id: connection.id, groupId } } })); rows.reload(); })}>
                    Bind to {connection.name}
                  </button>
                ) : '—'}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

function Members({ groupId, canWrite }: { groupId: string; canWrite: boolean }): JSX.Element {
  const [tick, setTick] = useState(0);
  const pager = usePager(String(tick));
  const page = useLoad(() => ok(api.GET('/api/groups/{id}/members', { params: { path: { id: groupId }, query: { limit: 25, ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } })), [groupId, pager.cursor, tick]);
  const [email, setEmail] = useState('');
  const action = useAction();
  const add = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const found = await ok(api.GET('/api/users', { params: { query: { email: email.trim(), limit: 1 } } }));
      const user = found.items[0];
      if (user === undefined) throw new Error(`No user has the email ${email.trim()}.`);
      await ok(api.PUT('/api/groups/{id}/members/{userId}', { params: { path: { id: groupId, userId: user.id } } }));
      setEmail('');
      setTick((n) => n + 1);
    });
  };
  return (
    <section aria-labelledby="members">
      <h2 id="members">Members</h2>
      <ErrorNote message={page.error ?? action.error} />
      {page.data === undefined ? null : (
        <>
          <Table caption="Members" head={['Name', 'Email', 'State', 'Action']} empty={page.data.items.length === 0 ? 'No member.' : undefined}>
            {page.data.items.map((u) => (
              <tr key={u.id}>
                <td><a href={href('users', u.id)}>{u.displayName}</a></td>
                <td>{u.email}</td>
                <td><Badge value={u.state} /></td>
                <td>
                  {canWrite ? (
                    <button type="button" class="small" onClick={() => void action.run(async () => { await ok(api.DELETE('/api/groups/{id}/members/{userId}', { params: { path: { id: groupId, userId: u.id } } })); setTick((n) => n + 1); })}>
                      Remove {u.email}
                    </button>
                  ) : '—'}
                </td>
              </tr>
            ))}
          </Table>
          <Pager label="Members" page={pager.page} nextCursor={page.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
        </>
      )}
      {canWrite ? (
        <form class="inline-form" onSubmit={add}>
          <Field label="Add a member by email">
            <input name="memberEmail" type="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </Field>
          <button type="submit" disabled={action.busy}>Add member</button>
        </form>
      ) : null}
    </section>
  );
}

function EditGroup({ group, canWrite, onSaved }: { group: Group; canWrite: boolean; onSaved: () => void }): JSX.Element {
  const [form, setForm] = useState({ name: group.name, description: group.description ?? '' });
  const action = useAction();
  return (
    <form class="inline-form" onSubmit={(e) => { e.preventDefault(); void action.run(async () => { await ok(api.PATCH('/api/groups/{id}', { params: { path: { id: group.id } }, body: { name: form.name.trim(), description: form.description.trim() === '' ? null : form.description.trim() } })); onSaved(); }); }}>
      <fieldset disabled={!canWrite}>
        <legend>Name and description</legend>
        <Field label="Name">
          <input name="name" required value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        </Field>
        <Field label="Description">
          <input name="description" value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />
        </Field>
        {canWrite ? <button type="submit" disabled={action.busy}>Save</button> : null}
      </fieldset>
      <ErrorNote message={action.error} />
    </form>
  );
}

export function GroupPage({ id, canWrite }: { id: string; canWrite: boolean }): JSX.Element {
  const group = useLoad(() => ok(api.GET('/api/groups/{id}', { params: { path: { id } } })), [id]);
  const [deleting, setDeleting] = useState(false);
  const [saved, setSaved] = useState(false);
  const action = useAction();
  const g = group.data;
  if (g === undefined) return <>{group.error === undefined ? <Loading what="the group" /> : <><h1 tabIndex={-1}>Group</h1><ErrorNote message={group.error} /></>}</>;
  return (
    <>
      <p><a href={href('groups')}>All groups</a></p>
      <h1 tabIndex={-1}>{g.name}</h1>
      <p>{g.description ?? 'No description.'}</p>
      {saved ? <InfoNote>Saved.</InfoNote> : null}
      {canWrite ? <div class="actions"><button type="button" class="danger" onClick={() => setDeleting(true)}>Delete group</button></div> : null}
      {deleting ? (
        <Confirm title={`Delete ${g.name}?`} confirmLabel="Delete" danger busy={action.busy} error={action.error} onCancel={() => setDeleting(false)} onConfirm={() => void action.run(async () => { await ok(api.DELETE('/api/groups/{id}', { params: { path: { id: g.id } } })); navigate(href('groups')); })}>
          <p>The group and its memberships go; its members stay in the directory.</p>
        </Confirm>
      ) : null}
      <Bindings groupId={g.id} canWrite={canWrite} />
      <Members groupId={g.id} canWrite={canWrite} />
      <EditGroup key={g.updatedAt} group={g} canWrite={canWrite} onSaved={() => { setSaved(true); group.reload(); }} />
    </>
  );
}
