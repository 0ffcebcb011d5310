import { Fragment, type JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { ConnectionPicker, useConnections } from '../components/connections';
import { Badge, ErrorNote, formatTime, InfoNote, Loading, useAction, useLoad, usePoll } from '../components/ui';
import { replaceQuery } from '../router';

/** A report section (users, safety net, groups) as a list of its counters. */
function Counters({ title, values }: { title: string; values: object | undefined }): JSX.Element | null {
  if (values === undefined) return null;
  const entries = Object.entries(values).filter(([, v]) => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string');
  return (
    <div class="card">
      <h3>{title}</h3>
      <dl class="facts">
        {entries.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k.replace(/([A-Z])/g, ' $1').toLowerCase()}</dt>
            <dd>{String(v)}</dd>
          </Fragment>
        ))}
      </dl>
    </div>
  );
}

export function ReconcilePage({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }): JSX.Element {
  const connections = useConnections();
  const connectionId = query.get('c') ?? (connections.data?.length === 1 ? connections.data[0]?.id : undefined);
  const status = useLoad(async () => (connectionId === undefined ? undefined : ok(api.GET('/api/connections/{id}/reconcile', { params: { path: { id: connectionId } } }))), [connectionId]);
  const [full, setFull] = useState(false);
  const [queued, setQueued] = useState<string | undefined>(undefined);
  const action = useAction();
  const waiting = status.data?.running !== undefined || (queued !== undefined && status.data?.lastRun?.runId !== queued);
  usePoll(waiting, status.reload);
  const run = status.data?.lastRun;
  return (
    <>
      <h1 tabIndex={-1}>Reconcile</h1>
      <p>Reads what changed in Microsoft 365 and corrects every bound account that drifted. It also runs on a schedule.</p>
      <ErrorNote message={connections.error} />
      {connections.data === undefined ? null : <ConnectionPicker connections={connections.data} value={connectionId} onChange={(id) => replaceQuery({ c: id })} />}
      {connectionId === undefined ? null : (
        <>
          {canWrite ? (
            <div class="actions">
              <label class="check">
                <input type="checkbox" checked={full} onChange={(e) => setFull(e.currentTarget.checked)} />
                Full resync (read every account, not only changes)
              </label>
              <button type="button" class="primary" disabled={action.busy || waiting} onClick={() => void action.run(async () => { const started = await ok(api.POST('/api/connections/{id}/reconcile', { params: { path: { id: connectionId } }, body: { full } })); setQueued(started.runId); status.reload(); })}>
                Run now
              </button>
            </div>
          ) : null}
          <ErrorNote message={action.error ?? status.error} />
          {status.data === undefined ? (
            status.loading ? <Loading what="the reconcile status" /> : null
          ) : (
            <>
              {status.data.running === undefined ? null : <InfoNote>A run is in progress (lease until {formatTime(status.data.running.leaseExpiresAt)}).</InfoNote>}
              <section aria-labelledby="last-run">
                <h2 id="last-run">Last run</h2>
                {run === undefined ? (
                  <p class="muted">No run has finished yet.</p>
                ) : (
                  <>
                    <dl class="facts">
                      <dt>Outcome</dt><dd><Badge value={run.outcome} /></dd>
                      <dt>Trigger</dt><dd>{run.trigger.replace(/_/g, ' ')}</dd>
                      <dt>Started</dt><dd>{formatTime(run.startedAt)}</dd>
                      <dt>Finished</dt><dd>{formatTime(run.finishedAt)}</dd>
                      <dt>Held deactivations</dt><dd>{run.heldDeactivations}</dd>
                    </dl>
                    {run.error === undefined ? null : <p class="note note-error" role="alert">{run.error.code}: {run.error.message}</p>}
                    <div class="cards">
                      <Counters title="Users" values={run.users} />
                      <Counters title="Safety net" values={run.safetyNet} />
                      <Counters title="Groups" values={run.groups} />
                    </div>
                  </>
                )}
              </section>
            </>
          )}
        </>
      )}
    </>
  );
}
