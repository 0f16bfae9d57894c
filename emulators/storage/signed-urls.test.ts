// The embedded Storage emulator checks V4 signed URLs as Cloud Storage does: signature, signer,
// expiry. URLs are signed by @google-cloud/storage itself, as the service signs them.
import { request } from "node:http";
import { Storage } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import { generateSigningCredentials, localSignerEmail } from "./signing-key";
import { useStorageEmulator } from "./test-fixture";

const BUCKET = "demo-netboot-signed";
const NAME = "blobs/kernel-signed";
const BODY = Buffer.from("0123456789abcdefghijklmnopqrstuvwxyz");

const fx = useStorageEmulator(async (started) => {
  await started.storage.bucket(BUCKET).file(NAME).save(BODY, { resumable: false });
  await started.storage.bucket(BUCKET).file(`${NAME}-other`).save(Buffer.from("other"), { resumable: false });
});

const sign = async (opts: { storage?: Storage; name?: string; expires?: number; host?: string } = {}) => {
  const [url] = await (opts.storage ?? fx.storage)
    .bucket(BUCKET)
    .file(opts.name ?? NAME)
    .getSignedUrl({ version: "v4", action: "read", expires: opts.expires ?? Date.now() + 60_000, ...(opts.host ? { host: opts.host } : {}) });
  return new URL(url);
};
const signerWith = (credentials: { client_email: string; private_key: string }) => new Storage({ projectId: "demo-netboot", apiEndpoint: fx.emu.storageHost, credentials });

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(url: URL, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname + url.search, headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("V4 signed URLs on the embedded Storage emulator", () => {
  it("serves a good URL: 200 whole, 206 for a Range", async () => {
    const url = await sign();
    expect(url.searchParams.get("X-Goog-Algorithm")).toBe("GOOG4-RSA-SHA256");
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(Buffer.from(await whole.arrayBuffer()).equals(BODY)).toBe(true);
    const part = await fetch(url, { headers: { Range: "bytes=10-19" } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("abcdefghij");
  });

  it("keeps the emulator's admin access for unsigned requests", async () => {
    const res = await fetch(`${fx.emu.storageHost}/${BUCKET}/${NAME}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(BODY)).toBe(true);
  });

  const tampered: [string, (u: URL) => void][] = [
    ["another object's path", (u) => (u.pathname = `/${BUCKET}/${NAME}-other`)],
    ["another bucket", (u) => (u.pathname = `/${BUCKET}-x/${NAME}`)],
    ["an added query parameter", (u) => u.searchParams.set("generation", "1")],
    ["a longer X-Goog-Expires", (u) => u.searchParams.set("X-Goog-Expires", String(Number(u.searchParams.get("X-Goog-Expires")) + 3600))],
    ["a later X-Goog-Date", (u) => u.searchParams.set("X-Goog-Date", (u.searchParams.get("X-Goog-Date") as string).replace(/T(\d\d)/, (_, h: string) => `T${String((Number(h) + 1) % 24).padStart(2, "0")}`))],
    ["another credential scope", (u) => u.searchParams.set("X-Goog-Credential", (u.searchParams.get("X-Goog-Credential") as string).replace(/\/\d{8}\//, "/20200101/"))],
    [
      "one bit of the signature",
      (u) => {
        const sig = u.searchParams.get("X-Goog-Signature") as string;
        u.searchParams.set("X-Goog-Signature", (sig[0] === "0" ? "1" : "0") + sig.slice(1));
      },
    ],
    ["the signature cut short", (u) => u.searchParams.set("X-Goog-Signature", (u.searchParams.get("X-Goog-Signature") as string).slice(0, 64))],
  ];
  for (const [what, tamper] of tampered) {
    it(`answers 403 SignatureDoesNotMatch (XML) to a URL with ${what}`, async () => {
      const url = await sign();
      tamper(url);
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(res.headers.get("content-type")).toMatch(/^application\/xml/);
      const body = await res.text();
      expect(body).toMatch(/^<\?xml version='1.0' encoding='UTF-8'\?><Error><Code>SignatureDoesNotMatch<\/Code>/);
      expect(body).not.toContain("0123456789");
    });
  }

  it("answers 403 to a URL signed by another key, under the trusted account's name or another", async () => {
    for (const credentials of [generateSigningCredentials(localSignerEmail), generateSigningCredentials("intruder@demo-netboot.iam.gserviceaccount.com")]) {
      const url = await sign({ storage: signerWith(credentials) });
      expect(url.searchParams.get("X-Goog-Credential")).toContain(encodeURIComponent(credentials.client_email).replace("%40", "@"));
      const res = await fetch(url);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("<Code>SignatureDoesNotMatch</Code>");
    }
  });

  it("answers 400 ExpiredToken once X-Goog-Date + X-Goog-Expires has passed, as GCS does", async () => {
    const url = await sign({ expires: Date.now() + 1500 });
    expect((await fetch(url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const res = await fetch(url);
    expect(res.status).toBe(400);
    const body = await res.text();
    expect(body).toContain("<Code>ExpiredToken</Code>");
    expect(body).toContain("Request signature expired at:");
  });

  it("answers 400 MalformedSecurityHeader to a signature parameter it cannot read", async () => {
    const url = await sign();
    url.searchParams.set("X-Goog-Expires", "604801");
    const res = await fetch(url);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("<Code>MalformedSecurityHeader</Code>");
  });

  it("checks the host the URL was signed for against the Host the request names", async () => {
    const emulator = new URL(fx.emu.storageHost);
    // Signed for another server: refused here even though it reached this one.
    const elsewhere = await sign({ host: "http://fx.storage.example.test" });
    elsewhere.host = emulator.host;
    expect((await getWithHost(elsewhere, emulator.host)).status).toBe(403);
    // Sent with the Host it was signed for (a front door such as the HTTPS door passes the Host through): served.
    expect((await getWithHost(elsewhere, `fx.storage.example.test:${emulator.port}`)).status).toBe(200);
    // Signed for the emulator's own address and reached by another name of this machine (the
    // local gateway sends a QEMU guest to 10.0.2.2): served, a loopback signature stands for this server.
    const local = await sign();
    const asGuest = await getWithHost(local, `10.0.2.2:${emulator.port}`);
    expect(asGuest.status).toBe(200);
    expect(asGuest.body).toBe(BODY.toString());
  });
});
