import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import type { DeadLetter, QueueName } from '../api/types';
import { Confirm, ErrorNote, Field, formatTime, InfoNote, Loading, Pager, Table, useAction, useLoad, usePager } from '../components/ui';
import { replaceQuery } from '../router';

/** Every work queue, with what travels on it (the README's queue table, in the words an admin reads). */
const queues: Readonly<Record<QueueName, string>> = {
  provisioning: 'provisioning: user writes to Microsoft 365',
  'directory-commands': 'directory-commands: automation commands',
  imports: 'imports: import job chunks',
  'group-sync': 'group-sync: security group writes',
  reconcile: 'reconcile: reconcile runs',
  notices: 'notices: binding notices by email',
  subscriptions: 'subscriptions: change notification subscriptions',
  plans: 'plans: plans made in the background',
};

const isQueue = (value: string | null): value is QueueName => value !== null && Object.hasOwn(queues, value);

/** Dead letters on a page; the service pages them with a cursor. */
const pageSize = 50;

export function DeadLettersPage({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }): JSX.Element {
  const asked = query.get('queue');
  const queue: QueueName = isQueue(asked) ? asked : 'provisioning';
  const [tick, setTick] = useState(0);
  // Another queue starts at its first page; after a resubmit or delete the page in view reloads.
  const pager = usePager(queue);
  const list = useLoad(
    () => ok(api.GET('/api/dead-letters', { params: { query: { queue, limit: pageSize, ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } })),
    [queue, pager.cursor, tick],
  );
  const [asking, setAsking] = useState<{ what: 'resubmit' | 'delete'; dead: DeadLetter } | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const action = useAction();
  const items = list.data?.items ?? [];
  return (
    <>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p>
        Work set aside because it could not be done: after its last attempt, or at once when it can never succeed. Each shows why. Resubmit sends it back to its queue (after fixing the cause);
        delete drops it for good. Secrets in a message are redacted before it is kept.
      </p>
      <div class="inline-form">
        <Field label="Queue">
          <select
            value={queue}
            onChange={(e) => {
              setDone(undefined);
              replaceQuery({ queue: e.currentTarget.value });
            }}
          >
            {Object.entries(queues).map(([name, label]) => (
              <option key={name} value={name}>{label}</option>
            ))}
          </select>
        </Field>
      </div>
      {done === undefined ? null : <InfoNote>{done}</InfoNote>}
      <ErrorNote message={list.error} />
      {list.data === undefined ? (
        list.loading ? <Loading what="dead letters" /> : null
      ) : (
        <>
          <Table caption={`Dead letters of ${queue}`} head={canWrite ? ['Set aside', 'Reason', 'Message', 'Deliveries', 'Body', 'Actions'] : ['Set aside', 'Reason', 'Message', 'Deliveries', 'Body']} empty={items.length === 0 ? (pager.page > 1 ? 'No dead letters left on this page.' : `No dead letters in ${queue}.`) : undefined}>
            {items.map((dead) => (
              <tr key={dead.id}>
                <td>{formatTime(dead.deadLetteredAt ?? dead.enqueuedAt)}</td>
                <td>{dead.reason}</td>
                <td class="mono">
                  {dead.messageId}
                  {dead.sessionId === undefined ? null : <span class="muted"> (session {dead.sessionId})</span>}
                </td>
                <td>{dead.deliveryCount}</td>
                <td>
                  <details>
                    <summary>Show</summary>
                    <pre class="mono body">{JSON.stringify(dead.body, null, 2)}</pre>
                  </details>
                </td>
                {canWrite ? (
                  <td class="row-actions">
                    <button type="button" class="small" aria-label={`Resubmit ${dead.messageId}`} onClick={() => { action.clear(); setAsking({ what: 'resubmit', dead }); }}>Resubmit</button>
                    <button type="button" class="small" aria-label={`Delete ${dead.messageId}`} onClick={() => { action.clear(); setAsking({ what: 'delete', dead }); }}>Delete</button>
                  </td>
                ) : null}
              </tr>
            ))}
          </Table>
          <Pager label="Dead letters" page={pager.page} nextCursor={list.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
        </>
      )}
      {asking === undefined ? null : (
        <Confirm
          title={asking.what === 'resubmit' ? 'Resubmit this message?' : 'Delete this dead letter?'}
          confirmLabel={asking.what === 'resubmit' ? 'Resubmit' : 'Delete for good'}
          danger={asking.what === 'delete'}
          busy={action.busy}
          error={action.error}
          onCancel={() => setAsking(undefined)}
          onConfirm={() =>
            void action.run(async () => {
              const path = { queue, id: asking.dead.id };
              if (asking.what === 'resubmit') {
                await ok(api.POST('/api/dead-letters/{queue}/{id}/resubmit', { params: { path } }));
                setDone(`${asking.dead.messageId} is back on ${queue}. If its cause is still there, it comes back here under a new message id.`);
              } else {
                await ok(api.DELETE('/api/dead-letters/{queue}/{id}', { params: { path } }));
                setDone(`${asking.dead.messageId} was deleted.`);
              }
              setAsking(undefined);
              setTick((n) => n + 1);
            })
          }
        >
          <p>
            {asking.what === 'resubmit'
              ? `Message ${asking.dead.messageId} goes back to the ${queue} queue under a new message id and is handled again.`
              : `Message ${asking.dead.messageId} is removed from the ${queue} dead letters and will not be handled.`}
          </p>
          <p>Reason it was set aside: {asking.dead.reason}</p>
        </Confirm>
      )}
    </>
  );
}
