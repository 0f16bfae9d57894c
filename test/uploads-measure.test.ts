// Measurement, not run by default (UPLOAD_MEASURE=1 npx vitest run test/uploads-measure.test.ts):
// a 150 MiB initrd goes to Storage through the session URI with curl (another process);
// this process runs the gateway and every function, so its RSS shows what the bytes cost it.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMachineId } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';

const MiB = 1024 * 1024;
const stack = useLocalStack();
const rssMiB = () => Math.round(process.memoryUsage().rss / MiB);

describe.runIf(process.env.UPLOAD_MEASURE)('150 MiB through an upload session', () => {
  it('the gateway sees two small requests; time and RSS are reported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upload-measure-'));
    try {
      const initrd = join(dir, 'initrd.img');
      const kernel = join(dir, 'vmlinuz');
      const hash = createHash('sha256');
      const big = Buffer.alloc(150 * MiB);
      for (let off = 0; off < big.length; off += MiB) randomBytes(MiB).copy(big, off);
      hash.update(big);
      writeFileSync(initrd, big);
      const k = randomBytes(8 * MiB);
      writeFileSync(kernel, k);
      const describeFile = (b: Buffer, sha: string) => ({ size: b.length, sha256: sha });
      const initrdSha = hash.digest('hex');
      const machineId = await createMachineId(stack.url);
      global.gc?.();
      const rss0 = rssMiB();
      const opened = await request<{ id: string; files: Record<string, { upload: { url: string } }> }>(stack.url, 'POST', '/api/v1/uploads', {
        json: { machine_id: machineId, mode: 'create', kernel: describeFile(k, createHash('sha256').update(k).digest('hex')), initrd: describeFile(big, initrdSha) },
      });
      expect(opened.status).toBe(201);
      let peak = rssMiB();
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB())), 20);
      const t0 = performance.now();
      // curl in its own process: the bytes go client -> Storage emulator, not through this process's gateway.
      execFileSync('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '--upload-file', initrd, opened.body.files.initrd?.upload.url ?? '']);
      execFileSync('curl', ['-sS', '-o', '/dev/null', '-X', 'PUT', '--upload-file', kernel, opened.body.files.kernel?.upload.url ?? '']);
      const uploadMs = performance.now() - t0;
      const rssAfterUpload = rssMiB();
      const t1 = performance.now();
      const done = await request(stack.url, 'POST', `/api/v1/uploads/${opened.body.id}/finalize`);
      const finalizeMs = performance.now() - t1;
      clearInterval(sampler);
      expect(done.status).toBe(201);
      process.stdout.write(
        `\n[measure] upload 158 MiB via session URI (curl): ${(uploadMs / 1000).toFixed(2)} s; finalize (hash 158 MiB from Storage + commit): ${(finalizeMs / 1000).toFixed(2)} s\n` +
          `[measure] gateway+functions process RSS: before ${rss0} MiB, after upload ${rssAfterUpload} MiB, peak during upload+finalize ${peak} MiB, after finalize ${rssMiB()} MiB\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
