import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { sandboxCall, type Json } from './sandbox-call';

/**
 * Connects a sandbox tenant through the admin API at `apiUrl` (its `/api` base): creates the
 * connection for `domain`, consents as `adminUpn` (a Global Administrator) with the sandbox's
 * auto-consent, follows the callback. Returns the connection id.
 */
export async function connectTenant(apiUrl: string, adminKey: string, tenant: { domain: string; adminUpn: string }, options: { name?: string; settings?: Record<string, unknown> } = {}): Promise<string> {
  const created = await fetch(`${apiUrl}/connections`, {
    method: 'POST',
    headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ name: options.name ?? 'Bench', domains: [tenant.domain], ...(options.settings === undefined ? {} : { settings: options.settings }) }),
  });
  const body = (await created.json()) as Json;
  if (created.status !== 201) throw new Error(`creating the connection answered ${created.status}`);
  const consent = new URL(body.consentUrl as string);
  consent.searchParams.set('login_hint', tenant.adminUpn);
  consent.searchParams.set('sandbox_auto_consent', '1');
  const authorized = await sandboxCall(consent.toString());
  const location = authorized.headers.location;
  if (typeof location !== 'string') throw new Error(`the consent page answered ${authorized.status}`);
  const callback = await fetch(location);
  if (callback.status !== 200) throw new Error(`consent failed: ${callback.status} ${await callback.text()}`);
  return body.id as string;
}

/** Connects the sandbox's contoso tenant for its default domain (see connectTenant). */
export function connectContoso(apiUrl: string, adminKey: string, options: { name?: string; settings?: Record<string, unknown> } = {}): Promise<string> {
  const contoso = sandboxTenants.contoso;
  return connectTenant(apiUrl, adminKey, { domain: contoso.defaultDomain, adminUpn: contoso.adminUpn }, options);
}
