/**
 * Debian's chromium driven by playwright-core (no browser download): headless, no sandbox (CI runs as
 * root), nothing in the background that would reach for the network.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, BrowserContext, chromium } from 'playwright-core';
import { ROOT } from './env';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no browser at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Where screenshots go: .local/screenshots (git-ignored) on every run, so a run shows what it saw;
 * docs/screenshots (committed, shown in the README) with UPDATE_SCREENSHOTS=1.
 */
export function screenshotDir(): string {
  const dir = process.env.UPDATE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'screenshots') : path.join(ROOT, '.local', 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Records every request that leaves `origin` and every CSP violation or script error a page reports. */
export function watchContext(context: BrowserContext, origin: string): { offOrigin: string[]; problems: string[] } {
  const seen = { offOrigin: [] as string[], problems: [] as string[] };
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) seen.offOrigin.push(url);
  });
  context.on('page', (page) => {
    page.on('pageerror', (err) => seen.problems.push(`script error: ${err.message}`));
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) seen.problems.push(`CSP: ${m.text()}`);
    });
  });
  return seen;
}
