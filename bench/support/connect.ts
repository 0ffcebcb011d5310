import { sandboxTenants } from '../../src/adapters/sandbox/seed';
import { sandboxCall, type Json } from './sandbox-call';

/**
 * Connects the sandbox's contoso tenant through the admin API at `apiUrl` (its `/api` base): creates
 * the connection for its default domain, consents as its Global Administrator with the sandbox's
 * auto-consent, follows the callback. Returns the connection id.
 */
export async function connectContoso(apiUrl: string, adminKey: string, options: { name?: string; settings?: Record<string, unknown> } = {}): Promise<string> {
  const contoso = sandboxTenants.contoso;
  const created = await fetch(`${apiUrl}/connections`, {
    method: 'POST',
    headers: { 'x-api-key': adminKey, 'content-type': 'application/json' },
    body: JSON.stringify({ name: options.name ?? 'Bench', domains: [contoso.defaultDomain], ...(options.settings === undefined ? {} : { settings: options.settings }) }),
  });
  const body = (await created.json()) as Json;
  if (created.status !== 201) throw new Error(`creating the connection answered ${created.status}`);
  const consent = new URL(body.consentUrl as string);
  consent.searchParams.set('login_hint', contoso.adminUpn);
  consent.searchParams.set('sandbox_auto_consent', '1');
  const authorized = await sandboxCall(consent.toString());
  const location = authorized.headers.location;
  if (typeof location !== 'string') throw new Error(`the consent page answered ${authorized.status}`);
  const callback = await fetch(location);
  if (callback.status !== 200) throw new Error(`consent failed: ${callback.status} ${await callback.text()}`);
  return body.id as string;
}
