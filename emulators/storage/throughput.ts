// Measures a 150 MiB upload (one resumable session, 8 MiB chunks, plain fetch) and download
// (createReadStream) through the embedded Storage emulator:
//   npx tsx emulators/storage/throughput.ts
import { MiB, report, seededBody, startStorage } from "./test-support";

async function main(): Promise<void> {
  const total = 150 * MiB;
  const chunk = 8 * MiB;
  const fx = await startStorage();
  try {
    const file = fx.storage.bucket("demo-netboot-bench").file("blobs/bench");
    const [uri] = await file.createResumableUpload({ metadata: { contentType: "application/octet-stream" }, preconditionOpts: { ifGenerationMatch: 0 } });
    let t = performance.now();
    for (let off = 0; off < total; off += chunk) {
      const len = Math.min(chunk, total - off);
      const last = off + len === total;
      const res = await fetch(uri, {
        method: "PUT",
        headers: { "Content-Range": `bytes ${off}-${off + len - 1}/${last ? total : "*"}` },
        body: seededBody("bench", off, len),
        duplex: "half",
      } as RequestInit);
      await res.arrayBuffer();
      if (res.status !== (last ? 200 : 308)) throw new Error(`PUT answered ${res.status}`);
    }
    const up = (performance.now() - t) / 1000;
    t = performance.now();
    let n = 0;
    for await (const c of file.createReadStream({ validation: false })) n += (c as Buffer).length;
    const down = (performance.now() - t) / 1000;
    report(`150 MiB upload: ${up.toFixed(2)} s (${(150 / up).toFixed(0)} MiB/s); download: ${down.toFixed(2)} s (${(n / MiB / down).toFixed(0)} MiB/s)`);
  } finally {
    await fx.emu.stop();
  }
}

void main();
