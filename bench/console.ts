import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { createLogger } from '../src/adapters/logging/pino-logger';
import { loadConfig } from '../src/app/config';
import { defaultConsoleDir } from '../src/app/console/console-assets';
import { startLocalHost } from '../src/app/host/local-host';
import { parseBenchArgs } from './support/bench-args';
import { launchChromium } from './support/chromium';
import { loadUsers } from './support/load-users';

interface Settings {
  readonly users: number;
  readonly runs: number;
  readonly loadBatch: number;
}

const defaults: Settings = { users: 100_000, runs: 5, loadBatch: 1_000 };
const budgetKb = 200;
const ttiTargetMs = 1_000;

/** The JavaScript and CSS the console's page loads first (what index.html references), raw and gzipped as the app serves them. */
function firstLoad(dir: string): { files: { name: string; raw: number; gzip: number }[]; raw: number; gzip: number } {
  const html = readFileSync(path.join(dir, 'index.html'), 'utf8');
  const names = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] as string);
  const files = names.map((name) => {
    const body = readFileSync(path.join(dir, name));
    return { name, raw: body.length, gzip: gzipSync(body, { level: 9 }).length };
  });
  return { files, raw: files.reduce((s, f) => s + f.raw, 0), gzip: files.reduce((s, f) => s + f.gzip, 0) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Polls `condition` (a page expression) and answers the page's clock (ms since navigation start) when
 * it first holds. Evaluated through the debugging protocol: the console's content security policy
 * rightly refuses the string evaluation waitForFunction would do inside the page.
 */
async function pageTimeWhen(page: Page, condition: string, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const at = (await page.evaluate(`(${condition}) ? performance.now() : null`)) as number | null;
    if (at !== null) return at;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const usersShown = "document.querySelectorAll('table tbody tr').length >= 50 && [...document.querySelectorAll('nav.pager button')].some((b) => b.textContent === 'Next' && !b.disabled)";

/** Time from navigation start until the users page is interactive: its first page of users shown and the Next button enabled. */
async function usersPageInteractive(page: Page, url: string): Promise<number> {
  await page.goto(url, { waitUntil: 'commit' });
  return pageTimeWhen(page, usersShown);
}

/**
 * How long an action takes until `done` holds (ms, the page's clock). The action is a page expression,
 * run in the page at the instant the clock starts: a Playwright click would add its own actionability
 * checks and round trips (100-300 ms on a loaded machine) to what is measured.
 */
async function timed(page: Page, action: string, done: string): Promise<number> {
  const started = (await page.evaluate(`(() => { const at = performance.now(); ${action}; return at; })()`)) as number;
  return (await pageTimeWhen(page, done)) - started;
}

const button = (label: string): string => `[...document.querySelectorAll('button')].find((b) => b.textContent === ${JSON.stringify(label)})`;

/**
 * `npm run bench -- console`: the console's first-load size (gzip), and the users page of a
 * 100,000-user directory in headless Chromium against the local host: time to interactive on a cold
 * and a warm cache, the next page, and a text search. Targets: <= 200 KB, <= 1 s.
 */
export async function run(args: string[]): Promise<void> {
  const settings = parseBenchArgs(args, defaults, 'console [--users N] [--runs N] [--load-batch N]');
  const bundle = firstLoad(defaultConsoleDir());
  for (const f of bundle.files) process.stdout.write(`  ${f.name.padEnd(36)} ${(f.raw / 1024).toFixed(1)} KB raw, ${(f.gzip / 1024).toFixed(1)} KB gzip\n`);
  process.stdout.write(`first load: ${(bundle.raw / 1024).toFixed(1)} KB of JS and CSS, ${(bundle.gzip / 1024).toFixed(1)} KB gzipped (budget ${budgetKb} KB)\n`);

  const dataDir = mkdtempSync(path.join(tmpdir(), 'm365-bridge-bench-console-'));
  const apiKey = randomBytes(24).toString('base64url');
  try {
    const loadStarted = performance.now();
    await loadUsers(dataDir, settings);
    process.stdout.write(`loaded ${settings.users} users in ${((performance.now() - loadStarted) / 1000).toFixed(1)} s\n`);
    const config = loadConfig({ DATA_DIR: dataDir, PORT: '0', SANDBOX_PORT: '0', ADMIN_API_KEY: apiKey, LOG_LEVEL: 'warn', M365_MODE: 'sandbox' });
    const host = await startLocalHost(config, { sandbox: false, timers: false, logger: createLogger({ level: 'warn' }) });
    const origin = host.url.replace(/\/api$/, '');
    // The API calls behind the page, alone, for comparison. The first text search of a database builds
    // its search index (once; writes keep it in step), so it is shown apart from the next ones.
    const get = async (name: string, route: string): Promise<{ nextCursor?: string }> => {
      const started = performance.now();
      const answer = await fetch(`${host.url}/${route}`, { headers: { 'x-api-key': apiKey } });
      const body = (await answer.json()) as { nextCursor?: string };
      process.stdout.write(`GET /api/users (${name}): ${(performance.now() - started).toFixed(0)} ms\n`);
      return body;
    };
    const first = await get('first page', 'users?limit=50');
    await get('first page again', 'users?limit=50');
    await get('next page', `users?limit=50&cursor=${encodeURIComponent(first.nextCursor ?? '')}`);
    const needle = encodeURIComponent(`user${settings.users - 1}@`);
    await get('first text search: builds the index', `users?limit=50&q=${needle}`);
    await get('text search', `users?limit=50&q=${needle}`);
    await get('text search, many matches', 'users?limit=50&q=first7');
    const { context, profileDir } = await launchChromium();
    try {
      // Signed in as the console does it: the key in the tab's sessionStorage.
      await context.addInitScript(`sessionStorage.setItem('m365-bridge.apiKey', ${JSON.stringify(apiKey)}); sessionStorage.setItem('m365-bridge.role', 'admin');`);
      const tti: number[] = [];
      for (let i = 0; i < settings.runs; i += 1) {
        const page = await context.newPage();
        tti.push(await usersPageInteractive(page, `${origin}/#/users`));
        if (i === settings.runs - 1) {
          const firstRow = "document.querySelector('table tbody tr a')?.textContent";
          const before = (await page.evaluate(firstRow)) as string;
          const next = await timed(page, `${button('Next')}.click()`, `${firstRow} !== ${JSON.stringify(before)} && document.querySelectorAll('table tbody tr').length >= 50`);
          process.stdout.write(`next page: ${next.toFixed(0)} ms\n`);
          // The value entered as the input event the form listens to, then the Search button.
          const box = "document.querySelector('input[type=search]')";
          await page.evaluate(`(() => { const box = ${box}; box.value = ${JSON.stringify(`user${settings.users - 1}@`)}; box.dispatchEvent(new Event('input', { bubbles: true })); })()`);
          const search = await timed(page, `${button('Search')}.click()`, "document.querySelectorAll('table tbody tr').length === 1");
          process.stdout.write(`search "user${settings.users - 1}@" (one match among ${settings.users}): ${search.toFixed(0)} ms\n`);
        }
        await page.close();
      }
      process.stdout.write(`load average during the run: ${loadavg().map((n) => n.toFixed(1)).join(' ')} on ${cpus().length} CPUs\n`);
      process.stdout.write(`users page interactive (${settings.users} users): cold cache ${(tti[0] ?? NaN).toFixed(0)} ms, warm median ${median(tti.slice(1)).toFixed(0)} ms over ${tti.length - 1} runs (target ${ttiTargetMs} ms)\n`);
    } finally {
      await context.close();
      rmSync(profileDir, { recursive: true, force: true });
      await host.stop(1_000);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
