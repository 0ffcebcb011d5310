import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (`apt-get install -y chromium`); nothing here downloads a browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Headless Chromium on a fresh profile (`userDataDir`), without the background traffic a closed
 * network refuses. Certificate errors are ignored for the sandbox tenant's self-signed loopback TLS.
 */
export async function launchChromium(viewport: { width: number; height: number } = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; profileDir: string }> {
  if (!existsSync(chromiumPath)) throw new Error(`Chromium is not at ${chromiumPath}: install Debian's chromium package (apt-get install -y chromium)`);
  const profileDir = mkdtempSync(path.join(os.tmpdir(), 'm365-bridge-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    ignoreHTTPSErrors: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--ignore-certificate-errors'],
  });
  return { context, profileDir };
}
