// One multipart POST /api/v1/profiles, built in memory and sent with Content-Length,
// while the gateway process's RSS is sampled.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { adminAuthorization } from './fixtures';
import { RssSampler } from './proc';
import { settle } from './stream';

export interface UploadRun {
  bodyBytes: number;
  status: number;
  durationMs: number;
  baseline: number;
  peak: number;
  peakSampled: number;
  peakHwm: number | null;
  end: number;
  growth: number;
  growthPerBodyByte: number;
}

/** A form as curl -F sends it: machine_id, kernel_args, kernel and initrd, `totalBytes` long in all. */
export function multipartBody(machineId: string, kernelBytes: number, totalBytes: number): { body: Buffer; contentType: string } {
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const head = (name: string, file?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"\r\nContent-Type: application/octet-stream` : ''}\r\n\r\n`;
  const fields = `${head('machine_id')}${machineId}\r\n${head('kernel_args')}["console=ttyS0","ip=dhcp"]\r\n`;
  const kernelHead = head('kernel', 'vmlinuz');
  const initrdHead = `\r\n${head('initrd', 'initrd.img')}`;
  const tail = `\r\n--${boundary}--\r\n`;
  const overhead = Buffer.byteLength(fields + kernelHead + initrdHead + tail);
  const initrdBytes = totalBytes - overhead - kernelBytes;
  if (initrdBytes <= 0) throw new Error('body too small for the kernel');
  const body = Buffer.concat([Buffer.from(fields + kernelHead), randomBytes(kernelBytes), Buffer.from(initrdHead), randomBytes(initrdBytes), Buffer.from(tail)]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

function post(url: string, body: Buffer, contentType: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': contentType, 'content-length': String(body.length), authorization: adminAuthorization() } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function uploadRun(baseUrl: string, serverPid: number, machineId: string, kernelBytes: number, totalBytes: number): Promise<UploadRun> {
  const { body, contentType } = multipartBody(machineId, kernelBytes, totalBytes);
  await settle(500);
  const sampler = new RssSampler(serverPid, 20);
  const started = performance.now();
  const res = await post(`${baseUrl}/api/v1/profiles`, body, contentType);
  const durationMs = performance.now() - started;
  // Buffers are released after the response; keep sampling briefly to catch a late peak.
  await settle(300);
  const rss = sampler.stop();
  if (res.status !== 201) throw new Error(`POST /api/v1/profiles: ${res.status} ${res.text.slice(0, 500)}`);
  const peak = Math.max(rss.peakSampled, rss.peakHwm ?? 0);
  return {
    bodyBytes: body.length,
    status: res.status,
    durationMs,
    baseline: rss.baseline,
    peak,
    peakSampled: rss.peakSampled,
    peakHwm: rss.peakHwm,
    end: rss.end,
    growth: peak - rss.baseline,
    growthPerBodyByte: (peak - rss.baseline) / body.length,
  };
}
