import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../bench/support/chromium';
import { openDatabase } from '../../src/adapters/sqlite/database';
import { sandboxSignInPassword } from '../../src/adapters/sandbox/seed';
import { SqliteWorkQueue } from '../../src/adapters/sqlite/sqlite-work-queue';
import { freePort } from '../../src/app/host/free-port';
import { repoRoot, startHostProcess, waitFor, type HostProcess } from '../support/host-process';

// The admin console in Debian's Chromium, on `npm start`'s host with the sandbox tenant: the whole
// admin flow by keyboard-usable controls, axe-core on every page, screenshots as test artefacts.
const artifacts = path.join(repoRoot, 'test-artifacts', 'console');
const adminKey = 'console-e2e-admin-key-0123456789abcdef';
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: { readonly target: unknown[] }[];
}

describe('admin console (Chromium)', () => {
  let dataDir: string;
  let profileDir: string;
  let host: HostProcess;
  let base: string;
  let context: BrowserContext;
  let page: Page;
  const axeReport: Record<string, { violations: number; seriousOrCritical: number; ids: string[] }> = {};
  const cspErrors: string[] = [];
  // Seconds from the start of each test to each numbered step, kept with the artefacts.
  const timings: string[] = [];
  let started = Date.now();
  const mark = (step: string): void => void timings.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${step}`);

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(repoRoot, 'scripts/build-if-needed.js')], { cwd: repoRoot, stdio: 'inherit' });
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-console-'));
    mkdirSync(artifacts, { recursive: true });
    const port = await freePort();
    host = startHostProcess({ PORT: String(port), SANDBOX_PORT: String(await freePort()), DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, LOG_LEVEL: 'warn' });
    await waitFor(() => host.output().includes('listening on'), 30_000);
    base = `http://localhost:${port}`;
    ({ context, profileDir } = await launchChromium());
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspErrors.push(message.text());
    });
  }, 120_000);

  afterAll(async () => {
    writeFileSync(path.join(artifacts, 'axe.json'), `${JSON.stringify(axeReport, null, 2)}\n`);
    writeFileSync(path.join(artifacts, 'timings.txt'), `${timings.join('\n')}\n`);
    await context?.close();
    if (host !== undefined && host.child.exitCode === null) {
      host.child.kill('SIGTERM');
      await host.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(profileDir, { recursive: true, force: true });
  }, 30_000);

  /** axe-core on the page as it is (0 serious or critical violations), then screenshots at desktop and phone width. */
  async function check(name: string): Promise<void> {
    // Injected once per document (the console changes pages without reloading).
    if ((await page.evaluate('typeof axe')) === 'undefined') await page.evaluate(axeSource);
    // Evaluated as text: the test compiles without the DOM library.
    const violations = (await page.evaluate(
      "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))",
    )) as AxeViolation[];
    const severe = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    axeReport[name] = { violations: violations.length, seriousOrCritical: severe.length, ids: violations.map((v) => `${v.id} (${v.impact})`) };
    expect(severe.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`)).toEqual([]);
    await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(artifacts, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });
  }

  async function api(route: string, init: { method?: string; json?: unknown } = {}): Promise<Response> {
    return fetch(`${base}/api/${route}`, {
      method: init.method ?? 'GET',
      headers: { 'x-api-key': adminKey, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
    });
  }

  async function openUser(email: string): Promise<void> {
    await page.goto(`${base}/#/users?q=${encodeURIComponent(email)}`);
    await page.getByRole('link', { name: new RegExp(email.split('@')[0]?.split('.')[0] ?? email, 'i') }).first().click();
    await page.getByText(email, { exact: false }).first().waitFor();
  }

  /** Polls `probe` until `accept` takes its value (the console follows background work by polling too). */
  async function until<T>(probe: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    while (Date.now() < deadline) {
      last = await probe().catch(() => undefined);
      if (last !== undefined && accept(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out waiting for ${what}; last seen: ${String(last)}`);
  }

  async function bindingState(connection: string): Promise<string> {
    const row = page.getByRole('region', { name: 'Bindings of this user (table)' }).getByRole('row', { name: new RegExp(connection) });
    return (await row.locator('td').nth(1).innerText()).trim();
  }

  it('does the admin flow: sign in, connect contoso through consent, import with a conflict, bind, suspend, confirm a held mass deactivation', async () => {
    started = Date.now();
    // 1. Sign in.
    mark('1');
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'm365-bridge console' }).waitFor();
    await check('sign-in');
    await page.getByLabel('API key').fill('not-a-key-but-long-enough-to-try');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').getByText('not accepted').waitFor();
    await page.getByLabel('API key').fill(adminKey);
    await page.getByLabel('API key').press('Enter');
    await page.getByRole('heading', { name: 'Connections' }).waitFor();
    // The key is in sessionStorage only.
    expect(await page.evaluate('[localStorage.length, document.cookie, Object.values(sessionStorage).includes(' + JSON.stringify(adminKey) + ')]')).toEqual([0, '', true]);

    // 2. Connect contoso through the sandbox's consent page, signing in as its Global Administrator.
    mark('2');
    await page.getByLabel('Name').fill('Contoso');
    await page.getByLabel('Domains').fill('contoso.com');
    await check('connections-empty');
    await page.getByRole('button', { name: 'Connect', exact: true }).click();
    await page.waitForURL(/^https:\/\/127\.0\.0\.1:\d+\//);
    mark('2 consent page');
    await page.getByLabel('Sign in as').fill('admin@contoso.com');
    await page.getByLabel('Password').fill(sandboxSignInPassword);
    await page.screenshot({ path: path.join(artifacts, 'consent.png'), fullPage: true });
    await page.getByRole('button', { name: 'Accept' }).click();
    await page.getByRole('heading', { name: 'Microsoft 365 connected' }).waitFor();
    await page.screenshot({ path: path.join(artifacts, 'consent-callback.png'), fullPage: true });
    mark('2 callback page');
    await page.getByRole('link', { name: 'Back to the console' }).click();
    await page.getByRole('heading', { name: 'Contoso' }).waitFor();
    await page.locator('dl.facts').getByText('active', { exact: true }).waitFor();
    await check('connection');
    await page.getByRole('link', { name: 'Connections', exact: true }).click();
    await page.getByRole('cell', { name: 'active' }).waitFor();
    await check('connections');

    // 3. Import three accounts; one's email is a directory user's already: a conflict, failed with its reason.
    mark('3');
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    for (const email of ['avery.ellis12@contoso.com', 'sam.taylor@contoso.com']) {
      await page.getByLabel('Email').fill(email);
      await page.getByRole('button', { name: 'Create user' }).click();
      await page.getByText(email).first().waitFor();
      await page.getByRole('link', { name: 'All users' }).click();
    }
    await page.getByRole('link', { name: 'Import', exact: true }).click();
    await page.getByRole('search', { name: "Filter the tenant's accounts" }).getByLabel('Text').fill('avery');
    await page.getByRole('button', { name: 'Filter' }).click();
    const preview = page.getByRole('region', { name: 'Accounts in the tenant (table)' });
    await until(() => preview.getByRole('row').count(), (rows) => rows === 4, 10_000, 'three accounts and the header row');
    await preview.getByRole('row', { name: /avery\.ellis12@contoso\.com.*conflict/ }).waitFor();
    await check('import-preview');
    await page.getByRole('button', { name: 'Select this page' }).click();
    await page.getByRole('button', { name: 'Import 3 selected' }).click();
    await page.getByText('3 of 3 done: 2 imported, 0 skipped, 1 failed.').waitFor({ timeout: 20_000 });
    const results = page.getByRole('region', { name: 'Import results (table)' });
    await results.getByRole('row', { name: /avery\.ellis12@contoso\.com.*failed.*an account with the same email already exists/ }).waitFor();
    await check('import-results');

    // 4. Bind a directory user and watch it become provisioned.
    mark('4');
    await openUser('sam.taylor@contoso.com');
    await page.getByRole('button', { name: 'Bind to Contoso' }).click();
    await until(() => bindingState('Contoso'), (state) => /^provisioned/.test(state), 20_000, 'the binding to be provisioned');
    await check('user');

    // 5. Suspend it: its account is disabled (deprovisioned).
    mark('5');
    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.getByText('Suspended: bound accounts are disabled.').waitFor();
    await until(() => bindingState('Contoso'), (state) => /^deprovisioned/.test(state), 20_000, 'the binding to be deprovisioned');

    // 6. A mass deactivation: with the guard at 1 user an hour, suspending the two imported users is held.
    mark('6');
    await page.goto(`${base}/#/connections`);
    await page.getByRole('link', { name: 'Contoso' }).click();
    // The bound users are listed by email, not by id.
    await page.getByRole('region', { name: 'User bindings (table)' }).getByRole('link', { name: 'sam.taylor@contoso.com', exact: true }).waitFor();
    await page.getByLabel('Guard: most users deactivated per hour').fill('1');
    await page.getByLabel('Guard: most accounts rewritten per hour').fill('1');
    await page.getByRole('button', { name: 'Review changes' }).click();
    const review = page.getByRole('dialog');
    await review.getByText('Hold deactivations beyond 1 users').waitFor();
    await review.getByText(/^Of 3 bound users, no account would change in Microsoft 365\.$/).waitFor({ timeout: 20_000 });
    await review.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').waitFor();
    // Then start writing job titles, two of which differ: beyond the change guard of 1, the review shows
    // the service's plan account by account, and saving confirms that plan.
    for (const [email, jobTitle] of [['avery.archer@contoso.com', 'Field Engineer'], ['avery.irving24@contoso.com', 'Site Lead']] as const) {
      const user = ((await (await api(`users?email=${encodeURIComponent(email)}`)).json()) as { items: { id: string }[] }).items[0];
      expect((await api(`users/${user?.id ?? ''}`, { method: 'PATCH', json: { jobTitle } })).status).toBe(200);
    }
    await page.getByRole('checkbox', { name: 'jobTitle' }).check();
    await page.getByRole('button', { name: 'Review changes' }).click();
    await review.getByText(/^Of 3 bound users: 2 updated; 1 unchanged\.$/).waitFor({ timeout: 20_000 });
    await review.getByText('This writes to 2 existing accounts, more than the change guard allows (1).', { exact: false }).waitFor();
    await review.getByRole('region', { name: 'Planned account changes (table)' }).getByRole('row', { name: /avery\.archer@contoso\.com.*update.*jobTitle: .* → Field Engineer/ }).waitFor();
    await check('connection-plan');
    await review.getByRole('button', { name: 'Confirm the plan and save' }).click();
    await review.waitFor({ state: 'hidden' });
    const saved = (await (await api('connections')).json()) as { items: { settings: { exportAttributes?: string[] } }[] };
    expect(saved.items[0]?.settings.exportAttributes).toEqual(['jobTitle']);
    for (const email of ['avery.archer@contoso.com', 'avery.irving24@contoso.com']) {
      await openUser(email);
      await page.getByRole('button', { name: 'Suspend' }).click();
      await page.getByText('Suspended: bound accounts are disabled.').waitFor();
    }
    await page.goto(`${base}/#/held`);
    await until(
      async () => {
        await page.reload();
        return page.getByRole('button', { name: /^Confirm \d+ held changes$/ }).innerText({ timeout: 1_000 });
      },
      (label) => label === 'Confirm 2 held changes',
      20_000,
      'two held deactivations',
    );
    const heldTable = page.getByRole('region', { name: 'Held changes (table)' });
    expect(await heldTable.getByRole('row', { name: /deactivate/ }).count()).toBe(2);
    // Each held change names its user by email: who is about to be disabled.
    for (const email of ['avery.archer@contoso.com', 'avery.irving24@contoso.com']) expect(await heldTable.getByRole('link', { name: email, exact: true }).count()).toBe(1);
    await check('held');
    await page.getByRole('button', { name: 'Confirm 2 held changes' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Make 2 changes' }).click();
    await page.getByText('2 held changes released').waitFor();
    const connection = (await (await api('connections')).json()) as { items: { id: string; status: string }[] };
    expect(connection.items[0]?.status).toBe('active');
    await openUser('avery.archer@contoso.com');
    await until(() => bindingState('Contoso'), (state) => /^deprovisioned/.test(state), 20_000, 'the binding to be deprovisioned');
    mark('done');
  }, 120_000);

  it('shows every other page, accessible, and a read-only console to a reader key', async () => {
    started = Date.now();
    mark('other pages');
    await page.goto(`${base}/#/groups`);
    await page.getByLabel('Name').fill('Engineers');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('heading', { name: 'Engineers' }).waitFor();
    await page.getByLabel('Add a member by email').fill('sam.taylor@contoso.com');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('region', { name: 'Members (table)' }).getByRole('cell', { name: 'sam.taylor@contoso.com', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Bind to Contoso' }).click();
    await until(() => page.getByRole('region', { name: 'Bindings of this group (table)' }).getByRole('row', { name: /Contoso/ }).innerText(), (text) => /synced/.test(text), 20_000, 'the security group to be synced');
    await check('group');
    await page.getByRole('link', { name: 'Groups', exact: true }).click();
    await page.getByRole('link', { name: 'Engineers' }).waitFor();
    await check('groups');
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('link', { name: /sam/i }).waitFor();
    await check('users');
    await page.getByRole('link', { name: 'Activity', exact: true }).click();
    await page.getByRole('cell', { name: 'user create provision' }).first().waitFor();
    // Events name their user by email and their group by name.
    const eventsTable = page.getByRole('region', { name: 'Events (table)' });
    await eventsTable.getByRole('link', { name: 'sam.taylor@contoso.com', exact: true }).first().waitFor();
    await eventsTable.getByRole('link', { name: 'Engineers', exact: true }).first().waitFor();
    await check('activity');
    await page.getByRole('link', { name: 'Reconcile', exact: true }).click();
    await page.getByRole('button', { name: 'Run now' }).click();
    await page.getByRole('heading', { name: 'Last run' }).waitFor();
    await page.getByRole('cell', { name: 'completed' }).or(page.getByText('completed', { exact: true })).first().waitFor({ timeout: 20_000 });
    await check('reconcile');
    // Dead letters: two automation commands that can never succeed, sent on the host's own queue (its
    // database file), are set aside at once with their reason; one is resubmitted, the other deleted.
    const db = openDatabase(path.join(dataDir, 'm365-bridge.db'));
    try {
      await new SqliteWorkQueue(db, { maxDeliveries: 10 }).send('directory-commands', [
        { messageId: 'hr-feed-17', body: { command: 'user.upsert', user: { email: 'not-an-email', password: 'Clear-Passw0rd!' } } },
        { messageId: 'hr-feed-18', body: { command: 'unheard-of' } },
      ]);
    } finally {
      db.close();
    }
    await page.getByRole('link', { name: 'Dead letters', exact: true }).click();
    await page.getByRole('heading', { name: 'Dead letters' }).waitFor();
    await page.getByLabel('Queue').selectOption('directory-commands');
    const deadLetters = page.getByRole('region', { name: 'Dead letters of directory-commands (table)' });
    await until(
      async () => {
        await page.getByLabel('Queue').selectOption('provisioning');
        await page.getByLabel('Queue').selectOption('directory-commands');
        return deadLetters.getByRole('row').count();
      },
      (rows) => rows === 3,
      10_000,
      'two dead letters and the header row',
    );
    await deadLetters.getByRole('row', { name: /email.*hr-feed-17/ }).waitFor();
    expect(await page.content()).not.toContain('Clear-Passw0rd!');
    await check('dead-letters');
    await page.getByRole('button', { name: 'Resubmit hr-feed-17' }).click();
    await page.getByRole('dialog').getByText(/goes back to the directory-commands queue/).waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Resubmit' }).click();
    await page.getByText('hr-feed-17 is back on directory-commands').waitFor();
    await page.getByRole('button', { name: 'Delete hr-feed-18' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete for good' }).click();
    await page.getByText('hr-feed-18 was deleted.').waitFor();
    // The list reloads after the note appears: the row goes with the reload.
    await deadLetters.getByRole('row', { name: /hr-feed-18/ }).waitFor({ state: 'detached' });
    // Still malformed, the resubmitted copy is set aside again under its new message id.
    await until(
      async () => {
        await page.reload();
        return deadLetters.getByRole('row').allInnerTexts();
      },
      (rows) => rows.length === 2 && /hr-feed-17~r/.test(rows[1] ?? ''),
      10_000,
      'the resubmitted copy to be dead-lettered again',
    );
    // More than a page: the service pages them (50 a page) and the console walks the pages by keyboard.
    const bulkDb = openDatabase(path.join(dataDir, 'm365-bridge.db'));
    try {
      await new SqliteWorkQueue(bulkDb, { maxDeliveries: 10 }).send('directory-commands', Array.from({ length: 50 }, (_, i) => ({ messageId: `hr-bulk-${i + 1}`, body: { command: 'unheard-of' } })));
    } finally {
      bulkDb.close();
    }
    const deadLetterPages = page.getByRole('navigation', { name: 'Dead letters pages' });
    await until(
      async () => {
        await page.reload();
        await deadLetters.getByRole('row').first().waitFor();
        return deadLetters.getByRole('row').count();
      },
      (rows) => rows === 51,
      20_000,
      'a full first page of 50 dead letters',
    );
    expect(await deadLetters.getByRole('row', { name: /hr-feed-17~r/ }).count()).toBe(0);
    expect(await deadLetterPages.getByRole('button', { name: 'Previous' }).isDisabled()).toBe(true);
    await deadLetterPages.getByRole('button', { name: 'Next' }).focus();
    await page.keyboard.press('Enter');
    await deadLetterPages.getByText('Page 2').waitFor();
    await deadLetters.getByRole('row', { name: /hr-feed-17~r/ }).waitFor();
    expect(await deadLetters.getByRole('row').count()).toBe(2);
    expect(await deadLetterPages.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await check('dead-letters-page-2');
    await deadLetterPages.getByRole('button', { name: 'Previous' }).focus();
    await page.keyboard.press('Enter');
    await deadLetterPages.getByText('Page 1').waitFor();
    await deadLetters.getByRole('row', { name: /hr-bulk-50/ }).waitFor();
    // By keyboard from a fresh load: the first Tab reaches the skip link, Enter moves to the page's heading.
    await page.goto(`${base}/#/users`);
    await page.reload();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement && document.activeElement.tagName')).toBe('H1');

    const created = (await (await api('keys', { method: 'POST', json: { name: 'console reader', role: 'reader' } })).json()) as { key: string };
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').fill(created.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('this console is read-only').waitFor();
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('link', { name: /sam/i }).waitFor();
    expect(await page.getByRole('button', { name: 'Create user' }).count()).toBe(0);
    await page.getByRole('link', { name: /sam/i }).click();
    await page.getByRole('heading', { name: /sam/i }).waitFor();
    expect(await page.getByRole('button', { name: /Suspend|Activate|Unbind|Bind to/ }).count()).toBe(0);
    await check('user-read-only');
    await page.goto(`${base}/#/dead-letters?queue=directory-commands`);
    await page.getByRole('region', { name: 'Dead letters of directory-commands (table)' }).getByRole('row', { name: /hr-bulk-50/ }).waitFor();
    expect(await page.getByRole('button', { name: /Resubmit|Delete/ }).count()).toBe(0);
    // A reader pages too: the oldest is on the second page.
    await page.getByRole('navigation', { name: 'Dead letters pages' }).getByRole('button', { name: 'Next' }).click();
    await page.getByRole('region', { name: 'Dead letters of directory-commands (table)' }).getByRole('row', { name: /hr-feed-17~r/ }).waitFor();
    expect(cspErrors).toEqual([]);
    mark('done');
  }, 120_000);
});
