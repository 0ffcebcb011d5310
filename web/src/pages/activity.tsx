import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import type { ProvisioningEvent } from '../api/types';
import { useConnections } from '../components/connections';
import { DirectoryLink, ErrorNote, Field, formatTime, Loading, Pager, Table, useLoad, usePager } from '../components/ui';
import { replaceQuery } from '../router';

const eventTypes: readonly ProvisioningEvent['type'][] = ['user_create_provision', 'user_update_provision', 'user_password_update_provision', 'user_deprovision', 'group_create_provision', 'group_update_provision', 'group_membership_provision'];

/** A `datetime-local` value as an ISO time, or undefined when empty. */
function isoOf(local: string): string | undefined {
  if (local === '') return undefined;
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export function ActivityPage({ query }: { query: URLSearchParams }): JSX.Element {
  const connections = useConnections();
  const filter = { connectionId: query.get('c') ?? '', userId: query.get('user') ?? '', type: query.get('type') ?? '', since: query.get('since') ?? '', until: query.get('until') ?? '' };
  const [draft, setDraft] = useState(filter);
  const pager = usePager(JSON.stringify(filter));
  const page = useLoad(
    () =>
      ok(
        api.GET('/api/events', {
          params: {
            query: {
              limit: 50,
              ...(filter.connectionId === '' ? {} : { connectionId: filter.connectionId }),
              ...(filter.userId === '' ? {} : { userId: filter.userId }),
              ...(filter.type === '' ? {} : { type: filter.type as ProvisioningEvent['type'] }),
              ...(isoOf(filter.since) === undefined ? {} : { since: isoOf(filter.since) }),
              ...(isoOf(filter.until) === undefined ? {} : { until: isoOf(filter.until) }),
              ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }),
            },
          },
        }),
      ),
    [JSON.stringify(filter), pager.cursor],
  );
  const names = new Map(connections.data?.map((c) => [c.id, c.name]));
  return (
    <>
      <h1 tabIndex={-1}>Activity</h1>
      <p>What was written to Microsoft 365, newest first.</p>
      <form class="inline-form" role="search" aria-label="Filter events" onSubmit={(e) => { e.preventDefault(); replaceQuery({ c: draft.connectionId, user: draft.userId.trim(), type: draft.type, since: draft.since, until: draft.until }); }}>
        <Field label="Connection">
          <select value={draft.connectionId} onChange={(e) => setDraft({ ...draft, connectionId: e.currentTarget.value })}>
            <option value="">Any</option>
            {connections.data?.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
        </Field>
        <Field label="Type">
          <select value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.currentTarget.value })}>
            <option value="">Any</option>
            {eventTypes.map((t) => <option key={t} value={t}>{t.replace(/_/g, ' ')}</option>)}
          </select>
        </Field>
        <Field label="User id">
          <input name="userId" value={draft.userId} onInput={(e) => setDraft({ ...draft, userId: e.currentTarget.value })} />
        </Field>
        <Field label="Since">
          <input name="since" type="datetime-local" value={draft.since} onInput={(e) => setDraft({ ...draft, since: e.currentTarget.value })} />
        </Field>
        <Field label="Until">
          <input name="until" type="datetime-local" value={draft.until} onInput={(e) => setDraft({ ...draft, until: e.currentTarget.value })} />
        </Field>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote message={page.error} />
      {page.data === undefined ? (
        page.loading ? <Loading what="events" /> : null
      ) : (
        <>
          <Table caption="Events" head={['When', 'Type', 'Connection', 'User or group', 'Changed']} empty={page.data.items.length === 0 ? 'No event matches.' : undefined}>
            {page.data.items.map((e) => (
              <tr key={e.id}>
                <td>{formatTime(e.at)}</td>
                <td>{e.type.replace(/_/g, ' ')}</td>
                <td>{names.get(e.connectionId) ?? e.connectionId}</td>
                <td>{e.userId !== undefined ? <DirectoryLink page="users" id={e.userId} label={e.user?.email} detail={e.user?.displayName} /> : e.groupId !== undefined ? <DirectoryLink page="groups" id={e.groupId} label={e.group?.name} /> : '—'}</td>
                <td>
                  {e.changedAttributes.join(', ') || '—'}
                  {e.addedMembers === undefined ? null : ` +${e.addedMembers} members`}
                  {e.removedMembers === undefined ? null : ` −${e.removedMembers} members`}
                </td>
              </tr>
            ))}
          </Table>
          <Pager label="Events" page={pager.page} nextCursor={page.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
        </>
      )}
    </>
  );
}
