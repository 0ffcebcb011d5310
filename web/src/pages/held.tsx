import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { ConnectionPicker, useConnections } from '../components/connections';
import { Badge, Confirm, DirectoryLink, ErrorNote, formatTime, InfoNote, Loading, Pager, Table, useAction, useLoad, usePager } from '../components/ui';
import { replaceQuery } from '../router';

export function HeldPage({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }): JSX.Element {
  const connections = useConnections();
  const paused = connections.data?.filter((c) => c.status === 'sync_paused') ?? [];
  const connectionId = query.get('c') ?? (paused.length === 1 ? paused[0]?.id : connections.data?.length === 1 ? connections.data[0]?.id : undefined);
  const [tick, setTick] = useState(0);
  const pager = usePager(`${connectionId ?? ''}:${tick}`);
  const held = useLoad(
    async () => (connectionId === undefined ? undefined : ok(api.GET('/api/connections/{id}/deactivations', { params: { path: { id: connectionId }, query: { limit: 50, ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } }))),
    [connectionId, pager.cursor, tick],
  );
  const [asking, setAsking] = useState<'confirm' | 'cancel' | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const action = useAction();
  const count = held.data?.count ?? 0;
  return (
    <>
      <h1 tabIndex={-1}>Held changes</h1>
      <p>
        When more accounts would be disabled, deleted or rewritten in an hour than a connection's guards allow, the connection pauses and holds those changes until an admin confirms or cancels them.
      </p>
      <ErrorNote message={connections.error} />
      {connections.data === undefined ? null : (
        <>
          {paused.length === 0 ? <InfoNote>No connection is paused by the guard.</InfoNote> : null}
          <ConnectionPicker connections={connections.data} value={connectionId} onChange={(id) => replaceQuery({ c: id })} />
        </>
      )}
      {done === undefined ? null : <InfoNote>{done}</InfoNote>}
      <ErrorNote message={held.error} />
      {connectionId === undefined ? null : held.data === undefined ? (
        held.loading ? <Loading what="held changes" /> : null
      ) : (
        <>
          <p>
            Connection status <Badge value={held.data.status} />: {count} {count === 1 ? 'change is' : 'changes are'} held.
          </p>
          <Table caption="Held changes" head={['User', 'Change', 'Attributes', 'Microsoft 365 object id', 'Held since']} empty={held.data.items.length === 0 ? 'Nothing is held.' : undefined}>
            {held.data.items.map((h) => (
              <tr key={h.userId}>
                <td><DirectoryLink page="users" id={h.userId} label={h.user?.email} detail={h.user?.displayName} /></td>
                <td><Badge value={h.change} /></td>
                <td>{h.attributes.join(', ') || '—'}</td>
                <td class="mono">{h.m365UserId}</td>
                <td>{formatTime(h.heldAt)}</td>
              </tr>
            ))}
          </Table>
          <Pager label="Held changes" page={pager.page} nextCursor={held.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
          {canWrite && count > 0 ? (
            <div class="actions">
              <button type="button" class="danger" onClick={() => setAsking('confirm')}>Confirm {count} held changes</button>
              <button type="button" onClick={() => setAsking('cancel')}>Cancel them</button>
            </div>
          ) : null}
        </>
      )}
      {asking === undefined || connectionId === undefined ? null : (
        <Confirm
          title={asking === 'confirm' ? `Make ${count} held changes?` : `Cancel ${count} held changes?`}
          confirmLabel={asking === 'confirm' ? `Make ${count} changes` : 'Cancel the changes'}
          danger={asking === 'confirm'}
          busy={action.busy}
          error={action.error}
          onCancel={() => setAsking(undefined)}
          onConfirm={() =>
            void action.run(async () => {
              if (asking === 'confirm') {
                const result = await ok(api.POST('/api/connections/{id}/deactivations/confirm', { params: { path: { id: connectionId } } }));
                setDone(`${result.released} held changes released: those accounts are being changed as held. The connection is ${result.status.replace(/_/g, ' ')} again.`);
              } else {
                const result = await ok(api.POST('/api/connections/{id}/deactivations/cancel', { params: { path: { id: connectionId } } }));
                setDone(`${result.cancelled} held changes cancelled: those accounts stay as they are and their bindings show DEACTIVATION_CANCELLED or CHANGE_CANCELLED. The connection is ${result.status.replace(/_/g, ' ')} again.`);
              }
              setAsking(undefined);
              setTick((n) => n + 1);
              connections.reload();
            })
          }
        >
          {asking === 'confirm' ? (
            <p>Each of these {count} Microsoft 365 accounts gets the change held for it (disabled, deleted or rewritten as listed), and the connection resumes.</p>
          ) : (
            <p>These {count} accounts stay as they are; their bindings show an error until each user changes again. The connection resumes.</p>
          )}
        </Confirm>
      )}
    </>
  );
}
