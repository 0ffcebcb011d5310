import { z } from 'zod';
import { defineRoute } from '../../src/app/http/route';
import { completeConsent, type ConsentRefusal, type ConsentSuccess } from '../../src/domain/connections/consent';
import { connectionDeps } from './connections';

const htmlEscapes: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => htmlEscapes[c] ?? c);
}

// Self-contained (no script, no external asset): the page is shown once, in a browser, after the sign-in.
function page(title: string, paragraphs: readonly string[], tone: 'success' | 'refusal'): string {
  const accent = tone === 'success' ? '#107c10' : '#a4262c';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#201f1e}h1{color:${accent};font-size:1.5rem}code{background:#f3f2f1;padding:0 .25rem}</style>
</head><body><h1>${escapeHtml(title)}</h1>
${paragraphs.map((p) => `<p>${p}</p>`).join('\n')}
</body></html>`;
}

// The console is served by this app at its root; its session (in sessionStorage) is still there in this tab.
const backToConsole = '<a href="/#/connections">Back to the console</a>';

function successPage(success: ConsentSuccess): string {
  const domains = success.domains.map((d) => `<code>${escapeHtml(d)}</code>`).join(', ');
  return page('Microsoft 365 connected', [
    `The connection <strong>${escapeHtml(success.connectionName)}</strong> is now authorized for the tenant <strong>${escapeHtml(success.tenantName)}</strong> (<code>${escapeHtml(success.tenantId)}</code>).`,
    `Domains: ${domains}.`,
    `Consented by ${escapeHtml(success.consentedBy.upn)}.`,
    `<a href="/#/connections/${encodeURIComponent(success.connectionId)}">Back to the console</a>`,
  ], 'success');
}

function refusalPage(refusal: ConsentRefusal): string {
  return page('Microsoft 365 was not connected', [escapeHtml(refusal.message), `Nothing was stored. Reason code: <code>${escapeHtml(refusal.code)}</code>.`, backToConsole], 'refusal');
}

// Any string passes: a person in a browser must get a page, never a JSON validation error.
const text = z.string().optional();

export const oauthCallbackRoute = defineRoute({
  name: 'oauth-callback',
  method: 'GET',
  route: 'oauth/callback',
  auth: 'none',
  summary: 'OAuth redirect URI: completes a consent and answers a page saying what happened',
  tags: ['connections'],
  query: z.object({ code: text, state: text, error: text, error_description: text }),
  responses: {
    200: { description: 'Connected: which tenant and which domains', contentType: 'text/html', schema: z.string() },
    400: { description: 'Refused, with the reason', contentType: 'text/html', schema: z.string() },
    500: { description: 'The service failed; nothing was stored', contentType: 'text/html', schema: z.string() },
  },
  handler: async ({ query, services, log, correlationId }) => {
    // The code and state are single-use secrets in this URL: the page must not leak them onward,
    // nor be framed by another site (X-Frame-Options for browsers that predate frame-ancestors).
    const headers = { 'referrer-policy': 'no-referrer', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'", 'x-frame-options': 'DENY' };
    let outcome;
    try {
      outcome = await completeConsent(connectionDeps(services), {
        ...(query.code === undefined ? {} : { code: query.code }),
        ...(query.state === undefined ? {} : { state: query.state }),
        ...(query.error === undefined ? {} : { error: query.error }),
        ...(query.error_description === undefined ? {} : { errorDescription: query.error_description }),
      });
    } catch (error) {
      log.error('consent could not be completed', { error });
      return { status: 500, html: page('Microsoft 365 was not connected', [`The service failed while completing the consent; nothing was stored. Start the consent again, and if it fails again quote <code>${escapeHtml(correlationId)}</code>.`, backToConsole], 'refusal'), headers };
    }
    return outcome.ok ? { status: 200, html: successPage(outcome.value), headers } : { status: 400, html: refusalPage(outcome.error), headers };
  },
});
