import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, ok } from '../api/client';
import { useConnections } from '../components/connections';
import { Badge, ErrorNote, Field, Loading, Table, useAction } from '../components/ui';
import { href } from '../router';

/** Opens a consent URL in this tab: the callback page links back to the console. */
export function openConsent(url: string): void {
  window.location.assign(url);
}

export async function startConsent(connectionId: string): Promise<void> {
  const link = await ok(api.POST('/api/connections/{id}/consent', { params: { path: { id: connectionId } } }));
  openConsent(link.consentUrl);
}

function NewConnection(): JSX.Element {
  const [name, setName] = useState('');
  const [domains, setDomains] = useState('');
  const action = useAction();
  const submit = (event: Event): void => {
    event.preventDefault();
    void action.run(async () => {
      const list = domains.split(/[\s,]+/).filter((d) => d !== '');
      const created = await ok(api.POST('/api/connections', { body: { name: name.trim(), ...(list.length === 0 ? {} : { domains: list }) } }));
      openConsent(created.consentUrl);
    });
  };
  return (
    <section aria-labelledby="new-connection">
      <h2 id="new-connection">Connect a Microsoft 365 tenant</h2>
      <p>A Global Administrator of the tenant signs in and consents; you come back here afterwards.</p>
      <form class="inline-form" onSubmit={submit}>
        <Field label="Name">
          <input name="name" required maxLength={128} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </Field>
        <Field label="Domains" hint="Optional, comma-separated; empty claims the tenant's verified custom domains">
          <input name="domains" value={domains} onInput={(e) => setDomains(e.currentTarget.value)} />
        </Field>
        <button type="submit" class="primary" disabled={action.busy}>
          Connect
        </button>
      </form>
      <ErrorNote message={action.error} />
    </section>
  );
}

export function ConnectionsPage({ canWrite }: { canWrite: boolean }): JSX.Element {
  const connections = useConnections();
  const consent = useAction();
  return (
    <>
      <h1 tabIndex={-1}>Connections</h1>
      <ErrorNote message={connections.error ?? consent.error} />
      {connections.data === undefined ? (
        connections.loading ? <Loading what="connections" /> : null
      ) : (
        <Table caption="Connections" head={['Name', 'Status', 'Tenant', 'Domains', 'Actions']} empty={connections.data.length === 0 ? 'No connection yet.' : undefined}>
          {connections.data.map((c) => (
            <tr key={c.id}>
              <td>
                <a href={href('connections', c.id)}>{c.name}</a>
              </td>
              <td>
                <Badge value={c.status} />
                {c.deactivationHold === undefined ? null : (
                  <a class="inline-link" href={href('held', { c: c.id })}>
                    {c.deactivationHold.count} held
                  </a>
                )}
              </td>
              <td>{c.tenantName ?? '—'}</td>
              <td>{c.domains.join(', ') || '—'}</td>
              <td>
                {canWrite && (c.status === 'pending_consent' || c.status === 'reauthorization_required' || c.status === 'deauthorized') ? (
                  <button type="button" disabled={consent.busy} onClick={() => void consent.run(() => startConsent(c.id))}>
                    {c.status === 'pending_consent' ? `Connect ${c.name}` : `Re-consent ${c.name}`}
                  </button>
                ) : (
                  <a href={href('connections', c.id)}>Open</a>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {canWrite ? <NewConnection /> : null}
    </>
  );
}
