import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElementHandle, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureConsoleBuilt } from '../../scripts/build-console';
import { aMac, aMachine } from '../helpers/fixtures';
import { request, useLocalStack } from '../helpers/stack';
import { launchChromium, openPage, requireBrowser, screenshot, seriousViolations, textOf, type ConsoleBrowser } from './browser';

/**
 * The console in Debian's Chromium against the local stack: sign in, register a machine from a
 * discovery a real /boot.ipxe made, give it a profile with a 40 MiB initrd through the editor
 * (and resume one after a reload), steer netboot, follow a boot, and never run markup the API
 * holds. axe-core on every view; screenshots for docs/console.md.
 */
const ready = requireBrowser();
const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const MiB = 1024 * 1024;

let chromium: ConsoleBrowser;
let page: Page;
let errors: string[];
let dir: string;
const files: Record<string, { path: string; sha256: string; size: number }> = {};
const mac = aMac();
let machineId = '';
const markupArg = '<img/src=x/onerror=window.__pwned=1>';
const markupUserData = '#cloud-config\n# <script>window.__pwned=2</script><img src=x onerror="window.__pwned=3">\nhostname: web-1\n';

function writeRandom(name: string, size: number): void {
  const bytes = randomBytes(size);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  files[name] = { path, size, sha256: createHash('sha256').update(bytes).digest('hex') };
}

async function upload(selector: string, name: string): Promise<void> {
  const input = (await page.$(selector)) as ElementHandle<HTMLInputElement>;
  await input.uploadFile(files[name]?.path as string);
}

/** The editor's progress item of one file: phase and bytes. */
function progressOf(name: string): Promise<{ phase: string; done: number; resumedFrom: number } | null> {
  return page.evaluate((n) => {
    const li = document.querySelector<HTMLElement>(`.progress li[data-file="${n}"]`);
    return li ? { phase: li.dataset.phase ?? '', done: Number(li.dataset.done), resumedFrom: Number(li.dataset.resumedFrom) } : null;
  }, name);
}

async function expectAccessible(view: string): Promise<void> {
  expect(await seriousViolations(page), `axe on ${view}`).toEqual([]);
}

describe.skipIf(!ready)('the console in Chromium', () => {
  beforeAll(async () => {
    await ensureConsoleBuilt();
    dir = mkdtempSync(join(tmpdir(), 'netboot-console-'));
    writeRandom('vmlinuz', 2 * MiB + 123);
    writeRandom('initrd.img', 40 * MiB);
    writeRandom('initrd-2.img', 40 * MiB + 4096);
    chromium = await launchChromium();
    ({ page, errors } = await openPage(chromium.browser));
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html uncached and hashed assets immutable, with a strict CSP and no framing', async () => {
    const index = await fetch(`${stack.url}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    const csp = index.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/'unsafe-inline'|'unsafe-eval'/);
    const html = await index.text();
    expect(html).not.toMatch(/<script>|<script [^>]*>[^<]/); // no inline script
    const js = /src="\.\/(main-[A-Z0-9]{8}\.js)"/.exec(html)?.[1];
    const asset = await fetch(`${stack.url}/console/${js}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('first render under 1 s, with nothing cached', async () => {
    // From the navigation's start (the browser's own clock) to the sign-in form in the DOM, with
    // the HTTP cache off (every file fetched); the renderer process is already running (its start
    // is the browser's cost, not the page's). The best of up to five, as the machine is shared.
    const fresh = await chromium.browser.newPage();
    await fresh.setCacheEnabled(false);
    const tries: number[] = [];
    for (let i = 0; i < 5 && !tries.some((t) => t < 1000); i++) {
      await fresh.goto('about:blank');
      await fresh.goto(`${stack.url}/console/`);
      tries.push(await fresh.waitForFunction(() => document.querySelector('#email') && performance.now(), { polling: 'mutation' }).then((h) => h.jsonValue() as Promise<number>));
    }
    await fresh.close();
    process.stdout.write(`console first render (sign-in form, no cache): ${tries.map((t) => `${Math.round(t)} ms`).join(', ')}\n`);
    expect(Math.min(...tries)).toBeLessThan(1000);
  }, 60_000);

  it('signs in locally with the prefilled admin; the token stays out of the URL and localStorage', async () => {
    await page.goto(`${stack.url}/console/`);
    await page.waitForSelector('#email');
    expect(await page.$eval('#email', (el) => (el as HTMLInputElement).value)).toBe('admin@netboot.local');
    expect(await textOf(page, 'button[type=submit]')).toBe('Sign in');
    await expectAccessible('sign-in');
    await screenshot(page, 'signin');
    await page.click('button[type=submit]');
    await page.waitForSelector('table.fleet');
    expect(page.url()).not.toMatch(/ey[A-Za-z0-9_-]{20,}/);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toContain('netboot.console.token');
  });

  it('registers a machine from the discovery a real /boot.ipxe made; the discovery is then gone', async () => {
    expect((await api('GET', `/boot.ipxe?mac=${mac}&arch=x86_64&platform=efi`)).status).toBe(404);
    await page.goto(`${stack.url}/console/#/discoveries`);
    const register = await page.waitForSelector(`button[aria-label="Register ${mac}"]`);
    await expectAccessible('discoveries');
    await screenshot(page, 'discoveries');
    await register?.click();
    await page.waitForSelector('#macs');
    expect(await page.$eval('#macs', (el) => (el as HTMLTextAreaElement).value)).toBe(mac);
    await page.type('#hostname', 'web-1');
    await expectAccessible('register');
    await page.click('form button[type=submit]');
    await page.waitForSelector('#machine-title');
    machineId = /#\/machines\/([\w-]+)/.exec(page.url())?.[1] ?? '';
    expect(await textOf(page, '#machine-title')).toBe('web-1');
    const machine = await api<{ hostname: string; nics: { mac: string }[] }>('GET', `/api/v1/machines/${machineId}`);
    expect(machine.body).toMatchObject({ hostname: 'web-1', nics: [{ mac }] });
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries).toEqual([]);
  });

  it('sets the profile with a 40 MiB initrd through the editor: progress observed, then the API has the right SHA-256', async () => {
    await page.goto(`${stack.url}/console/#/machines/${machineId}/profile`);
    await page.waitForSelector('#kernel');
    await upload('#kernel', 'vmlinuz');
    await upload('#initrd', 'initrd.img');
    await page.$eval('#args', (el) => ((el as HTMLTextAreaElement).value = ''));
    await page.type('#args', `console=ttyS0\nhostname={{hostname}}\n${markupArg}`);
    await page.type('#user-data', markupUserData);
    await expectAccessible('profile editor');
    // Slow uploads down so that progress can be seen (DevTools network throttling).
    const cdp = await page.createCDPSession();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 40 * MiB });
    await page.click('form button[type=submit]');
    const seen = new Set<string>();
    let midway = false;
    for (let i = 0; i < 1200; i++) {
      const p = await progressOf('initrd');
      if (p) seen.add(p.phase);
      if (p && p.phase === 'uploading' && p.done > 0 && p.done < 40 * MiB) {
        midway = true;
        if (!seen.has('screenshot')) {
          seen.add('screenshot');
          await page.$eval('.progress', (el) => el.scrollIntoView({ block: 'end' }));
          await screenshot(page, 'profile-editor');
        }
      }
      if (await page.$('.problem')) throw new Error(await textOf(page, '.problem'));
      if (p?.phase === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    expect([...seen]).toEqual(expect.arrayContaining(['hashing', 'uploading', 'done']));
    expect(midway).toBe(true);
    expect(await textOf(page, '.progress li[data-file="initrd"]')).toMatch(/uploaded 40 MiB/);
    await page.waitForSelector('#machine-title'); // back on the machine page once saved
    const profile = await api<{ kernel: { sha256: string; size: number }; initrd: { sha256: string; size: number } }>('GET', `/api/v1/boot/${machineId}/profile`);
    expect(profile.body.initrd).toMatchObject({ sha256: files['initrd.img']?.sha256, size: 40 * MiB });
    expect(profile.body.kernel).toMatchObject({ sha256: files.vmlinuz?.sha256, size: 2 * MiB + 123 });
  }, 180_000);

  it('the machine view shows markup in kernel arguments and user-data as text and runs none of it', async () => {
    await page.goto(`${stack.url}/console/#/machines/${machineId}`);
    await page.waitForSelector('[data-testid="boot-script"]');
    await page.waitForFunction(() => !document.querySelector('[data-testid="user-data"]')?.textContent?.includes('Loading'));
    expect(await textOf(page, '[data-testid="args-written"]')).toBe(`console=ttyS0 hostname={{hostname}} ${markupArg}`);
    expect(await textOf(page, '[data-testid="args-rendered"]')).toBe(`console=ttyS0 hostname=web-1 ${markupArg}`);
    expect(await textOf(page, '[data-testid="user-data"]')).toBe(markupUserData);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.$$eval('main img, main script', (els) => els.length)).toBe(0);
    // The "Boot script" is the preview route's answer, as /boot.ipxe would serve it.
    const preview = await api('GET', `/api/v1/machines/${machineId}/boot-script?arch=x86_64&platform=efi`);
    expect((await textOf(page, '[data-testid="boot-script"]')).replace(/^# Generated: .*$/m, '')).toBe(preview.text.replace(/^# Generated: .*$/m, ''));
    await expectAccessible('machine');
  });

  it('switches netboot to once and the API agrees; the timeline shows a boot made through the boot routes', async () => {
    await page.click('input[name=netboot][value=once]');
    await page.click('.netboot button[type=submit]');
    await page.waitForFunction(() => document.querySelector('.netboot [role=status]')?.textContent === 'Netboot is now once.');
    expect((await api<{ netboot: string }>('GET', `/api/v1/machines/${machineId}`)).body.netboot).toBe('once');

    // A boot through the boot routes: the script, then the kernel it names (its boot reference records the phase).
    const script = await api('GET', `/boot.ipxe?mac=${mac}&arch=x86_64&platform=efi`);
    expect(script.status).toBe(200);
    const kernelUrl = /^kernel (\S+)/m.exec(script.text)?.[1] as string;
    const kernel = await fetch(`${stack.url}${kernelUrl}`);
    expect(kernel.status).toBe(200);
    await kernel.arrayBuffer();
    await page.reload();
    await page.waitForSelector('.timeline > li');
    const timeline = await textOf(page, '.timeline > li');
    expect(timeline).toContain(mac);
    expect(timeline).toMatch(/script at .* from /);
    expect(timeline).toMatch(/kernel at .* from /);
    expect(timeline).toContain('stopped at kernel');
    await screenshot(page, 'machine');
    // The fleet row stands out: its last boot stopped before `booting`.
    await page.goto(`${stack.url}/console/#/fleet`);
    await page.waitForSelector('tr.failed');
    expect(await textOf(page, 'tr.failed')).toContain('stopped at kernel');
    expect(await textOf(page, 'tr.failed')).toContain(files['initrd.img']?.sha256.slice(0, 12));
    await expectAccessible('fleet');
    await screenshot(page, 'fleet');
    // Filters: by host name (read through the fleet), by MAC (the API's filter).
    await page.goto(`${stack.url}/console/#/fleet?q=web`);
    await page.waitForFunction(() => document.querySelector('main [role=status]')?.textContent?.includes('searched'));
    expect(await page.$$eval('table.fleet tbody th', (cells) => cells.map((c) => c.textContent))).toEqual(['web-1']);
    await page.goto(`${stack.url}/console/#/fleet?q=${encodeURIComponent(mac.toUpperCase())}`);
    await page.waitForFunction(() => document.querySelector('main [role=status]')?.textContent?.startsWith('Machines with MAC'));
    expect(await page.$$eval('table.fleet tbody th', (cells) => cells.map((c) => c.textContent))).toEqual(['web-1']);
  });

  it('a reload in the middle of an upload resumes it: Storage keeps what it had, the rest is sent', async () => {
    const other = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ hostname: 'db-1' }) });
    const id = other.body.id;
    await page.goto(`${stack.url}/console/#/machines/${id}/profile`);
    await page.waitForSelector('#kernel');
    await upload('#kernel', 'vmlinuz');
    await upload('#initrd', 'initrd-2.img');
    const cdp = await page.createCDPSession();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 16 * MiB });
    await page.click('form button[type=submit]');
    // Past the first 8 MiB chunk (Storage confirmed it), reload.
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('.progress li[data-file="initrd"][data-phase="uploading"]')?.dataset.done ?? 0) > 9 * 1024 * 1024, { timeout: 120_000 });
    await page.reload();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await page.waitForSelector('.notice');
    expect(await textOf(page, '.notice')).toMatch(/interrupted/);
    await upload('#kernel', 'vmlinuz');
    await upload('#initrd', 'initrd-2.img');
    await page.click('form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('main [role=status]')?.textContent?.includes('resumed upload session') || document.querySelector('.problem'), { timeout: 120_000 });
    if (await page.$('.problem')) throw new Error(await textOf(page, '.problem'));
    const initrd = await progressOf('initrd');
    expect(initrd?.resumedFrom).toBeGreaterThanOrEqual(8 * MiB);
    // The kernel was already in the service (same bytes as web-1's): not sent again.
    expect(await progressOf('kernel')).toMatchObject({ phase: 'held' });
    const profile = await api<{ initrd: { sha256: string } }>('GET', `/api/v1/boot/${id}/profile`);
    expect(profile.body.initrd.sha256).toBe(files['initrd-2.img']?.sha256);
  }, 240_000);

  it('raised no page error', () => {
    expect(errors).toEqual([]);
  });
});
