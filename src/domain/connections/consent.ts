import { err, ok, type Result } from '../result';
import type { ConnectionRecord } from './connection';
import { claim, claimDomains, claimHolder, release } from './connection-claims';
import type { ConnectionDeps, ConnectionError } from './connection-deps';
import { transition } from './connection-state';
import { consumeConsentState, expiredStateNonces, forgetState, issueConsentState, type ConsentStateDeps } from './consent-state';
import type { ConsentGrant } from './identity-platform';
import type { TenantFacts } from './tenant-reader';
import { goDaddyEvidence, isClaimableCustomDomain, isGlobalAdministrator, selectDomains } from './tenant-rules';

function pkceSecretName(nonce: string): string {
  return `oauth-pkce-${nonce}`;
}

export interface ConsentLink {
  readonly consentUrl: string;
  readonly expiresAt: string;
}

/**
 * A fresh consent URL for the connection (first consent, renewal or re-consent): authorization
 * code + PKCE S256, with a signed single-use state. The PKCE verifier waits in the secret store.
 */
export async function startConsent(deps: ConnectionDeps, connectionId: string): Promise<Result<ConsentLink, ConnectionError>> {
  const doc = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
  if (doc === undefined) return err({ code: 'not_found', message: `connection ${connectionId} not found` });
  await sweepAbandonedConsents(deps);
  const pkce = await deps.identity.createPkce();
  const issued = await issueConsentState(deps, connectionId);
  await deps.secrets.set(pkceSecretName(issued.nonce), pkce.verifier, { expiresAt: issued.expiresAt });
  const consentUrl = await deps.identity.authorizationUrl({ state: issued.state, codeChallenge: pkce.challenge });
  return ok({ consentUrl, expiresAt: issued.expiresAt.toISOString() });
}

const sweepBatch = 100;

/**
 * Removes what consent links that expired unused left behind: each one's PKCE verifier, then its
 * state. Runs on every new consent and on the reconcile timer. Returns how many it removed.
 */
export async function sweepAbandonedConsents(deps: ConsentStateDeps): Promise<number> {
  let swept = 0;
  for (;;) {
    const nonces = await expiredStateNonces(deps, sweepBatch);
    for (const nonce of nonces) {
      // The secret goes first: a sweep cut short finds the state again and retries.
      await deps.secrets.delete(pkceSecretName(nonce));
      await forgetState(deps, nonce);
    }
    swept += nonces.length;
    if (nonces.length < sweepBatch) return swept;
  }
}

/** What the authority sent back to the redirect URI. */
export interface CallbackInput {
  readonly code?: string;
  readonly state?: string;
  readonly error?: string;
  readonly errorDescription?: string;
}

export interface ConsentSuccess {
  readonly connectionId: string;
  readonly connectionName: string;
  readonly tenantId: string;
  readonly tenantName: string;
  readonly domains: readonly string[];
  readonly consentedBy: { readonly objectId: string; readonly upn: string };
}

export type ConsentRefusalCode =
  | 'state_invalid'
  | 'state_expired'
  | 'state_used'
  | 'authority_error'
  | 'connection_not_found'
  | 'connection_changed'
  | 'code_rejected'
  | 'authority_unavailable'
  | 'tenant_unreadable'
  | 'not_global_admin'
  | 'godaddy_tenant'
  | 'tenant_mismatch'
  | 'tenant_already_connected'
  | 'domain_not_verified'
  | 'domain_not_managed'
  | 'domain_claimed'
  | 'no_claimable_domains';

/** Why a consent was refused, in words for the person who consented. */
export interface ConsentRefusal {
  readonly code: ConsentRefusalCode;
  readonly message: string;
}

function refuse(code: ConsentRefusalCode, message: string): { readonly ok: false; readonly error: ConsentRefusal } {
  return err({ code, message });
}

// The authority's description carries trace ids and timestamps after the first line; the first line says it.
function firstLine(text: string | undefined): string {
  return (text ?? '').split(/\r?\n/)[0]?.trim().slice(0, 500) ?? '';
}

/** The checks on who consented and in which tenant; the first failing one refuses. */
async function checkTenant(deps: ConnectionDeps, connection: ConnectionRecord, facts: TenantFacts): Promise<Result<string[], ConsentRefusal>> {
  if (!isGlobalAdministrator(facts.roleTemplateIds)) {
    return refuse('not_global_admin', `${facts.account.upn} is not a Global Administrator of ${facts.tenantName}. Sign in with a Global Administrator account (a dedicated admin account is recommended: every change shows in the Entra audit log under it).`);
  }
  const goDaddy = goDaddyEvidence(facts.domains);
  if (goDaddy !== undefined) {
    return refuse('godaddy_tenant', `${facts.tenantName} is a Microsoft 365 tenant operated by GoDaddy (${goDaddy}). GoDaddy-operated tenants do not allow directory integrations; move the tenant off GoDaddy's federation first.`);
  }
  if (connection.tenantId !== undefined && connection.tenantId !== facts.tenantId) {
    return refuse('tenant_mismatch', `This connection belongs to tenant ${connection.tenantName ?? connection.tenantId}, but ${facts.account.upn} signed in to ${facts.tenantName} (${facts.tenantId}). Sign in to the connection's own tenant, or create a new connection.`);
  }
  const tenantHolder = await claimHolder(deps, 'tenant', facts.tenantId);
  if (tenantHolder !== undefined && tenantHolder !== connection.id) {
    return refuse('tenant_already_connected', `${facts.tenantName} is already connected through another connection (${tenantHolder}). A tenant can be connected once.`);
  }
  const heldElsewhere = new Set<string>();
  for (const domain of facts.domains.filter(isClaimableCustomDomain)) {
    const holder = await claimHolder(deps, 'domain', domain.id);
    if (holder !== undefined && holder !== connection.id) heldElsewhere.add(domain.id.toLowerCase());
  }
  const selected = selectDomains(connection.domains, facts.domains, heldElsewhere);
  if (!selected.ok) {
    switch (selected.error.code) {
      case 'domain_not_verified':
        return refuse('domain_not_verified', `The domain ${selected.error.domain} is not a verified domain of ${facts.tenantName}.`);
      case 'domain_not_managed':
        return refuse('domain_not_managed', `The domain ${selected.error.domain} is federated in ${facts.tenantName}; only managed domains can be connected.`);
      case 'no_claimable_domains':
        return refuse('no_claimable_domains', `${facts.tenantName} has no verified, managed custom domain that another connection does not already hold. Verify a domain in the tenant, or name the domains when creating the connection.`);
    }
  }
  for (const domain of selected.value) {
    if (heldElsewhere.has(domain)) return refuse('domain_claimed', `The domain ${domain} is already claimed by another connection.`);
  }
  return ok(selected.value);
}

function sameAuthorization(a: ConnectionRecord, b: ConnectionRecord): boolean {
  return a.status === b.status && a.tenantId === b.tenantId && a.consentedAt === b.consentedAt && a.domains.join(',') === b.domains.join(',');
}

/**
 * Handles the authority's answer to a consent URL. Accepts only a Global Administrator of a
 * non-GoDaddy tenant that no other connection holds, with domains verified there and free; on
 * refusal nothing is stored (the state is consumed, claims made on the way are released).
 */
export async function completeConsent(deps: ConnectionDeps, input: CallbackInput): Promise<Result<ConsentSuccess, ConsentRefusal>> {
  if (input.state === undefined || input.state === '') return refuse('state_invalid', 'The sign-in response carries no state. Start the consent again from the service.');
  const state = await consumeConsentState(deps, input.state);
  if (!state.ok) {
    if (state.error.nonce !== undefined) await deps.secrets.delete(pkceSecretName(state.error.nonce));
    return refuse(state.error.code, state.error.message);
  }
  const { connectionId, nonce } = state.value;
  const verifier = await deps.secrets.get(pkceSecretName(nonce));
  await deps.secrets.delete(pkceSecretName(nonce));
  const log = deps.logger.child({ connectionId });

  if (input.error !== undefined) {
    const description = firstLine(input.errorDescription);
    log.warn('consent refused by the authority', { error: input.error, description });
    return refuse('authority_error', `Microsoft did not grant consent: ${input.error}${description === '' ? '' : ` (${description})`}.`);
  }
  if (input.code === undefined || input.code === '' || verifier === undefined) {
    return refuse('state_expired', 'The sign-in response is incomplete or its consent link has expired. Start the consent again.');
  }
  const snapshot = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
  if (snapshot === undefined) return refuse('connection_not_found', 'The connection this consent was for no longer exists.');

  const redeemed = await deps.identity.redeemCode({ code: input.code, codeVerifier: verifier });
  if (!redeemed.ok) {
    log.warn('authorization code redemption failed', { error: redeemed.error.error, code: redeemed.error.code });
    if (redeemed.error.kind === 'unavailable') return refuse('authority_unavailable', 'Microsoft could not be reached to complete the sign-in. Start the consent again in a moment.');
    return refuse('code_rejected', `Microsoft refused the sign-in: ${firstLine(redeemed.error.message)}`);
  }
  const grant = redeemed.value;
  const facts = await deps.tenants.readConsentFacts(grant.accessToken);
  if (!facts.ok) {
    log.warn('tenant could not be read at consent', { code: facts.error.code, error: facts.error.message });
    return refuse('tenant_unreadable', `The tenant could not be read with the permissions granted: ${facts.error.message}`);
  }
  const checked = await checkTenant(deps, snapshot.data, facts.value);
  if (!checked.ok) {
    log.warn('consent refused', { code: checked.error.code, tenantId: facts.value.tenantId, upn: facts.value.account.upn });
    return checked;
  }
  return accept(deps, snapshot.data, grant, facts.value, checked.value);
}

async function accept(deps: ConnectionDeps, connection: ConnectionRecord, grant: ConsentGrant, facts: TenantFacts, domains: string[]): Promise<Result<ConsentSuccess, ConsentRefusal>> {
  const connectionId = connection.id;
  const tenantClaim = await claim(deps, 'tenant', facts.tenantId, connectionId);
  if (!tenantClaim.ok) return refuse('tenant_already_connected', `${facts.tenantName} is already connected through another connection (${tenantClaim.error.holder}). A tenant can be connected once.`);
  const domainClaims = await claimDomains(deps, domains, connectionId);
  if (!domainClaims.ok) {
    if (tenantClaim.value.created) await release(deps, 'tenant', facts.tenantId, connectionId);
    return refuse('domain_claimed', `The domain ${domainClaims.error.domain} is already claimed by another connection.`);
  }
  // Undoes this consent's claims, and its tokens when the connection had none before.
  const undo = async (): Promise<void> => {
    for (const domain of domainClaims.value) await release(deps, 'domain', domain, connectionId);
    if (tenantClaim.value.created) await release(deps, 'tenant', facts.tenantId, connectionId);
    if (connection.homeAccountId === undefined) await deps.identity.forget(connectionId);
  };
  let recorded: ConsentSuccess | undefined;
  try {
    recorded = await recordConsent(deps, connection, grant, facts, domains);
  } catch (error) {
    await undo();
    throw error;
  }
  if (recorded !== undefined) return ok(recorded);
  // Another change to this connection's authorization won the race (a de-authorization, a deletion, another consent).
  await undo();
  return refuse('connection_changed', 'The connection changed while the consent was being completed. Start the consent again.');
}

/** Persists the tokens, then records the consent on the connection unless its authorization changed meanwhile. */
async function recordConsent(deps: ConnectionDeps, connection: ConnectionRecord, grant: ConsentGrant, facts: TenantFacts, domains: string[]): Promise<ConsentSuccess | undefined> {
  const connectionId = connection.id;
  // Tokens first: a connection document that says `active` must always find its account in the cache.
  await grant.persist(connectionId);
  const now = deps.clock.now().toISOString();
  const consentedBy = { objectId: facts.account.objectId, upn: facts.account.upn };
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const stored = await deps.store.get<ConnectionRecord>('connections', connectionId, connectionId);
    if (stored === undefined || !sameAuthorization(stored.data, connection)) return undefined;
    const next = transition(stored.data.status, 'consent_granted');
    if (!next.ok) return undefined;
    // A new consent grants what the app asks for today: a consent upgrade it was waiting for is done.
    const { reauthorization: _reauthorization, deauthorizedAt: _deauthorizedAt, consentUpgrade: _consentUpgrade, ...kept } = stored.data;
    const record: ConnectionRecord = {
      ...kept,
      status: next.value,
      domains,
      tenantId: facts.tenantId,
      tenantName: facts.tenantName,
      consentedBy,
      consentedAt: now,
      homeAccountId: grant.homeAccountId,
      updatedAt: now,
    };
    const replaced = await deps.store.replace('connections', connectionId, connectionId, record, { ifMatch: stored.etag });
    if (replaced.ok) {
      deps.logger.info('connection consented', { connectionId, tenantId: facts.tenantId, domains, status: next.value });
      return { connectionId, connectionName: record.name, tenantId: facts.tenantId, tenantName: facts.tenantName, domains, consentedBy };
    }
  }
  return undefined;
}
