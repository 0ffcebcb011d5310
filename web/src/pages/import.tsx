import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import type { ImportJob } from '../api/types';
import { ConnectionPicker, useConnections } from '../components/connections';
import { Badge, ErrorNote, Field, InfoNote, Loading, Pager, Table, useAction, useLoad, usePager } from '../components/ui';
import { href, replaceQuery } from '../router';

type Status = 'new' | 'imported' | 'conflict' | 'other_connection';
interface Filter {
  readonly status: Status | '';
  readonly domain: string;
  readonly q: string;
  readonly enabled: '' | 'true' | 'false';
}
const emptyFilter: Filter = { status: '', domain: '', q: '', enabled: '' };

function apiFilter(f: Filter): { status?: Status; domain?: string; q?: string; enabled?: boolean } {
  return {
    ...(f.status === '' ? {} : { status: f.status }),
    ...(f.domain.trim() === '' ? {} : { domain: f.domain.trim() }),
    ...(f.q.trim() === '' ? {} : { q: f.q.trim() }),
    ...(f.enabled === '' ? {} : { enabled: f.enabled === 'true' }),
  };
}

/** The preview's query string takes `enabled` as text. */
function previewQuery(f: Filter): Omit<ReturnType<typeof apiFilter>, 'enabled'> & { enabled?: 'true' | 'false' } {
  const { enabled: _enabled, ...rest } = apiFilter(f);
  return { ...rest, ...(f.enabled === '' ? {} : { enabled: f.enabled }) };
}

function JobView({ jobId }: { jobId: string }): JSX.Element {
  const [job, setJob] = useState<ImportJob | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [outcome, setOutcome] = useState<'' | 'imported' | 'skipped' | 'failed'>('');
  const pager = usePager(`${jobId}:${outcome}`);
  useEffect(() => {
    let live = true;
    let timer: number | undefined;
    const poll = async (): Promise<void> => {
      try {
        const next = await ok(api.GET('/api/imports/{jobId}', { params: { path: { jobId }, query: { limit: 50, ...(outcome === '' ? {} : { outcome }), ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } }));
        if (!live) return;
        setJob(next);
        setError(undefined);
        if (next.status === 'queued' || next.status === 'running') timer = window.setTimeout(() => void poll(), 500);
      } catch (failure) {
        if (live) setError((failure as Error).message);
      }
    };
    void poll();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [jobId, outcome, pager.cursor]);
  if (job === undefined) return error === undefined ? <Loading what="the import job" /> : <ErrorNote message={error} />;
  const done = job.succeeded + job.failed + job.skipped;
  return (
    <section aria-labelledby="job">
      <h2 id="job">Import job</h2>
      <p>
        <Badge value={job.status} /> {done} of {job.total || '…'} done: {job.succeeded} imported, {job.skipped} skipped, {job.failed} failed.
      </p>
      <progress aria-label="Import progress" max={Math.max(job.total, 1)} value={done} />
      {job.error === undefined ? null : <p class="note note-error" role="alert">{job.error}</p>}
      <Field label="Show">
        <select value={outcome} onChange={(e) => setOutcome(e.currentTarget.value as typeof outcome)}>
          <option value="">Every result</option>
          <option value="failed">Failures only</option>
          <option value="imported">Imported only</option>
          <option value="skipped">Skipped only</option>
        </select>
      </Field>
      <Table caption="Import results" head={['Account', 'Outcome', 'Reason', 'Directory']} empty={job.results.length === 0 ? 'No result yet.' : undefined}>
        {job.results.map((r) => (
          <tr key={r.type === 'user' ? r.m365UserId : r.m365GroupId}>
            <td>{r.type === 'user' ? r.upn : r.displayName}</td>
            <td><Badge value={r.outcome} /></td>
            <td>{r.reason ?? '—'}</td>
            <td>
              {r.type === 'user' && r.userId !== undefined ? <a href={href('users', r.userId)}>open user</a> : r.type === 'group' && r.groupId !== undefined ? <a href={href('groups', r.groupId)}>open group</a> : '—'}
            </td>
          </tr>
        ))}
      </Table>
      <Pager label="Import results" page={pager.page} nextCursor={job.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
    </section>
  );
}

export function ImportPage({ canWrite, query }: { canWrite: boolean; query: URLSearchParams }): JSX.Element {
  const connections = useConnections();
  const connectionId = query.get('c') ?? (connections.data?.length === 1 ? connections.data[0]?.id : undefined);
  const jobId = query.get('job') ?? undefined;
  const [draft, setDraft] = useState<Filter>(emptyFilter);
  const [filter, setFilter] = useState<Filter>(emptyFilter);
  const [selected, setSelected] = useState<Map<string, string>>(new Map());
  const [allMatching, setAllMatching] = useState(false);
  const pager = usePager(`${connectionId ?? ''}:${JSON.stringify(filter)}`);
  const preview = useLoad(
    async () =>
      connectionId === undefined
        ? undefined
        : ok(api.GET('/api/connections/{id}/m365/users', { params: { path: { id: connectionId }, query: { limit: 50, ...previewQuery(filter), ...(pager.cursor === undefined ? {} : { cursor: pager.cursor }) } } })),
    [connectionId, filter, pager.cursor],
  );
  const start = useAction();
  const importable = (preview.data?.items ?? []).filter((u) => u.status === 'new' || u.status === 'conflict');
  const toggle = (id: string, upn: string, on: boolean): void =>
    setSelected((s) => {
      const next = new Map(s);
      if (on) next.set(id, upn);
      else next.delete(id);
      return next;
    });
  const search = (event: Event): void => {
    event.preventDefault();
    setFilter(draft);
    setAllMatching(false);
  };
  const startImport = (): void =>
    void start.run(async () => {
      if (connectionId === undefined) return;
      const body = allMatching ? { filter: apiFilter(filter) } : { m365UserIds: [...selected.keys()] };
      const job = await ok(api.POST('/api/connections/{id}/imports', { params: { path: { id: connectionId } }, body }));
      setSelected(new Map());
      setAllMatching(false);
      replaceQuery({ c: connectionId, job: job.jobId });
    });
  return (
    <>
      <h1 tabIndex={-1}>Import from Microsoft 365</h1>
      <ErrorNote message={connections.error} />
      {connections.data === undefined ? null : (
        <ConnectionPicker connections={connections.data} value={connectionId} onChange={(id) => replaceQuery({ c: id })} only={(c) => c.status === 'active' || c.status === 'sync_paused'} />
      )}
      {jobId === undefined ? null : (
        <>
          <JobView jobId={jobId} />
          <p>
            <a href={href('import', { c: connectionId })}>Back to the preview</a>
          </p>
        </>
      )}
      {connectionId === undefined || jobId !== undefined ? null : (
        <section aria-labelledby="preview">
          <h2 id="preview">Accounts in the tenant</h2>
          <form class="inline-form" onSubmit={search} role="search" aria-label="Filter the tenant's accounts">
            <Field label="Status">
              <select value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value as Filter['status'] })}>
                <option value="">Any</option>
                <option value="new">new</option>
                <option value="conflict">conflict</option>
                <option value="imported">imported</option>
                <option value="other_connection">other connection</option>
              </select>
            </Field>
            <Field label="Domain">
              <input name="domain" value={draft.domain} onInput={(e) => setDraft({ ...draft, domain: e.currentTarget.value })} />
            </Field>
            <Field label="Text">
              <input name="q" type="search" value={draft.q} onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })} />
            </Field>
            <Field label="Enabled">
              <select value={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.currentTarget.value as Filter['enabled'] })}>
                <option value="">Any</option>
                <option value="true">Enabled</option>
                <option value="false">Disabled</option>
              </select>
            </Field>
            <button type="submit">Filter</button>
          </form>
          <ErrorNote message={preview.error} />
          {preview.data === undefined ? (
            preview.loading ? <Loading what="the tenant's accounts" /> : null
          ) : (
            <>
              <Table caption="Accounts in the tenant" head={['Select', 'Account', 'Name', 'Enabled', 'Status']} empty={preview.data.items.length === 0 ? 'No account matches.' : undefined}>
                {preview.data.items.map((u) => {
                  const selectable = canWrite && (u.status === 'new' || u.status === 'conflict');
                  return (
                    <tr key={u.id}>
                      <td>
                        <input type="checkbox" aria-label={`Select ${u.userPrincipalName}`} disabled={!selectable || allMatching} checked={allMatching ? selectable : selected.has(u.id)} onChange={(e) => toggle(u.id, u.userPrincipalName, e.currentTarget.checked)} />
                      </td>
                      <td>{u.email ?? u.userPrincipalName}</td>
                      <td>{u.displayName ?? '—'}</td>
                      <td>{u.accountEnabled ? 'yes' : 'no'}</td>
                      <td>
                        <Badge value={u.status} />
                        {u.status === 'conflict' ? <span class="muted"> a directory user has this email</span> : null}
                        {u.status === 'imported' && u.userId !== undefined ? <a class="inline-link" href={href('users', u.userId)}>open user</a> : null}
                      </td>
                    </tr>
                  );
                })}
              </Table>
              <Pager label="Accounts" page={pager.page} nextCursor={preview.data.nextCursor} onNext={pager.next} onPrevious={pager.previous} />
              {canWrite ? (
                <div class="actions">
                  <button type="button" disabled={allMatching || importable.length === 0} onClick={() => importable.forEach((u) => toggle(u.id, u.userPrincipalName, true))}>
                    Select this page
                  </button>
                  <label class="check">
                    <input type="checkbox" checked={allMatching} onChange={(e) => setAllMatching(e.currentTarget.checked)} />
                    Everything that matches the filter, on every page
                  </label>
                  <button type="button" class="primary" disabled={start.busy || (!allMatching && selected.size === 0)} onClick={startImport}>
                    {allMatching ? 'Import everything that matches' : `Import ${selected.size} selected`}
                  </button>
                  {selected.size > 0 && !allMatching ? (
                    <button type="button" onClick={() => setSelected(new Map())}>
                      Clear selection
                    </button>
                  ) : null}
                </div>
              ) : null}
              <ErrorNote message={start.error} />
              {allMatching ? <InfoNote>The import reads the tenant again with these filters; accounts already imported are reported as skipped.</InfoNote> : null}
            </>
          )}
        </section>
      )}
    </>
  );
}
