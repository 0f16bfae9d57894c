import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { mintLocalToken } from '../../emulators/local-issuer';

/**
 * Debian's Chromium driven by puppeteer-core (nothing downloaded at test time), for the
 * console tests. scripts/e2e/prepare-browser.sh installs it where it is missing; where that
 * cannot work the tests say why and are skipped, and in CI a skip is a failure.
 */
export const chromiumPath = '/usr/bin/chromium';
const repo = resolve(__dirname, '../..');

export function prepareBrowser(): { ok: true } | { ok: false; reason: string } {
  if (existsSync(chromiumPath)) return { ok: true };
  const run = spawnSync('bash', [join(repo, 'scripts/e2e/prepare-browser.sh')], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 15 * 60_000 });
  if (run.status === 0 && existsSync(chromiumPath)) return { ok: true };
  return { ok: false, reason: `scripts/e2e/prepare-browser.sh failed: ${`${run.stdout}${run.stderr}`.trim().split('\n').slice(-5).join(' | ')}` };
}

export function requireBrowser(): boolean {
  const prepared = prepareBrowser();
  if (prepared.ok) return true;
  const message = `console browser tests skipped: ${prepared.reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run them)`);
  process.stdout.write(`\n${message}\n`);
  return false;
}

export interface ConsoleBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<ConsoleBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'netboot-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    userDataDir: profile,
    // Without the background-networking flags Chromium's own connections are refused here, many at a time.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    defaultViewport: { width: 1100, height: 720 },
    protocolTimeout: 120_000,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A page that records uncaught errors and CSP violations (the tests expect none). */
export async function openPage(browser: Browser): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err instanceof Error ? err.message : String(err)}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of (404|403|429)/.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  return { page, errors };
}

export async function signIn(page: Page, base: string, email = 'admin@netboot.local'): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.waitForSelector('#email');
  await page.$eval('#email', (el) => ((el as HTMLInputElement).value = ''));
  await page.type('#email', email);
  await page.click('button[type=submit]');
  await page.waitForSelector('header nav');
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it stands (injected through DevTools, which the page's CSP does not govern). */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: unknown): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  return found.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.join(', ')}`);
}

/** A screenshot for docs/console.md. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(repo, 'docs/img', `console-${name}.png`) as `${string}.png`, fullPage: false });
}

/** The text of the first element matching `selector`. */
export function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (el) => el.textContent ?? '');
}

export function tokenFor(email: string): string {
  return mintLocalToken({ email, sub: email });
}
