// Issue 20's bench line: what HTTPS costs the local gateway. The boot-script load and the large
// initrd in proxy mode, each on a fresh plain-HTTP gateway and a fresh HTTPS one (the local CA,
// `npm start -- --tls`) side by side, the order swapped every round; the HTTPS figures as ratios
// of the plain ones from the same run. Used by `npm run bench` and `npx tsx bench/boot-path.ts --tls`.
import tls from 'node:tls';
import { ensureLocalCa, type KeyType } from '../emulators/tls/ca';
import { BOOT_LOAD, cpuPerRequestMs, macsFor } from './boot-path';
import { runLoad, type LoadResult } from './load';
import { fetchParts, initrdUrls, type PartsTiming } from './parts';
import { startChild } from './proc';
import { median } from './report';

export interface TlsRun {
  mode: 'http' | 'https';
  boot: LoadResult;
  bootCpuMs: number;
  initrd: PartsTiming;
}

export interface TlsComparison {
  keyType: KeyType;
  runs: TlsRun[];
  /** Medians over the rounds. */
  http: { bootRps: number; bootCpuMs: number; initrdMibPerSec: number };
  https: { bootRps: number; bootCpuMs: number; initrdMibPerSec: number };
  /** https / http: boot scripts per second, and the initrd's MiB/s. */
  bootRatio: number;
  initrdRatio: number;
}

/**
 * `macs`: 2 x rounds x macsFor(load) machines for the boot-script load (each run its own);
 * `initrdMac`: a machine whose profile has the large initrd (asked once per run, in parts as
 * iPXE would: the script's part URLs in turn on one keep-alive connection).
 */
export async function compareTls(opts: { macs: readonly string[]; initrdMac: string; initrdBytes: number; rounds: number; load: typeof BOOT_LOAD; emulatorsPid: number; keyType?: KeyType }): Promise<TlsComparison> {
  const keyType = opts.keyType ?? 'ecdsa';
  const perRun = macsFor(opts.load);
  if (opts.macs.length < 2 * opts.rounds * perRun) throw new Error(`compareTls needs ${2 * opts.rounds * perRun} MACs, got ${opts.macs.length}`);
  // This process is the machines' side: it trusts the local CA as an iPXE build with TRUST= would.
  const ca = await ensureLocalCa();
  tls.setDefaultCACertificates([...new Set([...tls.getCACertificates('default'), ca.certPem])]);
  const runs: TlsRun[] = [];
  let used = 0;
  for (let round = 0; round < opts.rounds; round++) {
    const order: ('http' | 'https')[] = round % 2 === 0 ? ['http', 'https'] : ['https', 'http'];
    for (const mode of order) {
      // All the load comes from one address (loopback): the per-address boot limit (600 a minute)
      // would refuse most of it. Off on both sides alike; the per-MAC limit still counts every request.
      const env = { ...process.env, LOG_LEVEL: 'warn', ASSET_DELIVERY: 'proxy', RATE_LIMIT_BOOT_PER_ADDRESS: '0', ...(mode === 'https' ? { NETBOOT_TLS: keyType } : {}) };
      const child = await startChild('../emulators/gateway-process.ts', env);
      if (!('url' in child.ready)) throw new Error('gateway child sent no url');
      const url = child.ready.url;
      try {
        if (!url.startsWith(`${mode}://`)) throw new Error(`the ${mode} gateway answers at ${url}`);
        const macs = opts.macs.slice(used, used + perRun);
        used += perRun;
        const boot = await runLoad({ urls: macs.map((mac) => `${url}/boot.ipxe?mac=${encodeURIComponent(mac)}`), ...opts.load, expectStatus: 200, watch: { server: child.pid, emulators: opts.emulatorsPid } });
        if (boot.errors > 0) throw new Error(`${mode} boot scripts: ${boot.errors} errors, first ${boot.firstError}`);
        const script = await (await fetch(`${url}/boot.ipxe?mac=${encodeURIComponent(opts.initrdMac)}`)).text();
        const initrd = await fetchParts(initrdUrls(script, url));
        if (initrd.bytes !== opts.initrdBytes || initrd.status.some((s) => s !== 200)) throw new Error(`${mode} initrd: statuses ${initrd.status.join(',')}, ${initrd.bytes} of ${opts.initrdBytes} bytes`);
        runs.push({ mode, boot, bootCpuMs: cpuPerRequestMs(boot), initrd });
      } finally {
        await child.stop();
      }
    }
  }
  const medians = (mode: 'http' | 'https') => {
    const of = runs.filter((r) => r.mode === mode);
    return { bootRps: median(of.map((r) => r.boot.throughputRps)), bootCpuMs: median(of.map((r) => r.bootCpuMs)), initrdMibPerSec: median(of.map((r) => r.initrd.mibPerSec)) };
  };
  const http = medians('http');
  const https = medians('https');
  return { keyType, runs, http, https, bootRatio: https.bootRps / http.bootRps, initrdRatio: https.initrdMibPerSec / http.initrdMibPerSec };
}

/** The comparison as report lines. */
export function tlsLines(c: TlsComparison, initrdMib: number): string[] {
  const runText = (pick: (r: TlsRun) => string) => c.runs.map((r) => `${r.mode} ${pick(r)}`).join(', ');
  return [
    `HTTPS (${c.keyType === 'rsa' ? 'RSA 2048' : 'ECDSA P-256'} leaf under the local CA) against plain HTTP, fresh gateways side by side, medians of ${c.runs.length / 2} rounds each:`,
    `  GET /boot.ipxe, ${BOOT_LOAD.concurrency} keep-alive clients: https ${c.https.bootRps.toFixed(0)} / http ${c.http.bootRps.toFixed(0)} req/s = ${c.bootRatio.toFixed(2)}; gateway CPU per script https ${c.https.bootCpuMs.toFixed(2)} / http ${c.http.bootCpuMs.toFixed(2)} ms (runs: ${runText((r) => r.boot.throughputRps.toFixed(0))})`,
    `  ${initrdMib} MiB initrd in parts, proxy mode, one keep-alive connection: https ${c.https.initrdMibPerSec.toFixed(0)} / http ${c.http.initrdMibPerSec.toFixed(0)} MiB/s = ${c.initrdRatio.toFixed(2)} (runs: ${runText((r) => r.initrd.mibPerSec.toFixed(0))})`,
  ];
}
