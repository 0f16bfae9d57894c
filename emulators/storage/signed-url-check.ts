// V4 signed URLs (GOOG4-RSA-SHA256) checked as Cloud Storage checks them:
// https://cloud.google.com/storage/docs/access-control/signed-urls and
// https://cloud.google.com/storage/docs/authentication/canonical-requests
// The canonical request and string to sign are not written here: @google-cloud/storage's own
// URLSigner rebuilds them from what the request carries (method, bucket, object, X-Goog-* values,
// signed headers, other query parameters), and the signature is verified against the string it
// asked to have signed, with the public key of the service account the credential names.
import { verify } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { dirname, join } from "node:path";
import type { TrustedSigner } from "./signing-key";

export type SignedUrlVerdict = { ok: true } | { ok: false; status: 400 | 403; code: string; message: string; details: string; stringToSign?: string };

interface SignerAuth {
  getCredentials(): Promise<{ client_email: string }>;
  sign(blob: string): Promise<string>;
}
interface UrlSignerLike {
  getSignedUrl(cfg: Record<string, unknown>): Promise<string>;
}
type UrlSignerCtor = new (auth: SignerAuth, bucket: { name: string }, file: { name: string }, storage: { apiEndpoint: string; universeDomain: string }) => UrlSignerLike;

// Not among the package's exports; loaded by path from the installed version (see package.json).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { URLSigner } = require(join(dirname(require.resolve("@google-cloud/storage")), "signer.js")) as { URLSigner: UrlSignerCtor };

const SIGNING_PARAMS = ["X-Goog-Algorithm", "X-Goog-Credential", "X-Goog-Date", "X-Goog-Expires", "X-Goog-SignedHeaders", "X-Goog-Signature"];
const MAX_EXPIRES = 7 * 24 * 3600; // GCS: at most 604800 seconds

/** Does the request carry a V4 signature (any of its query parameters)? Unsigned requests keep the emulator's admin access. */
export function isSignedRequest(query: URLSearchParams): boolean {
  return SIGNING_PARAMS.some((p) => query.has(p) || query.has(p.toLowerCase()));
}

function malformed(parameter: string, details: string): SignedUrlVerdict {
  return { ok: false, status: 400, code: "MalformedSecurityHeader", message: "Your request has a malformed header.", details: `${parameter}: ${details}` };
}

/** X-Goog-Date's basic ISO 8601 form, 20261206T023000Z. */
function parseGoogDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, s);
  return Number.isNaN(t) ? undefined : t;
}

export interface SignedUrlCheck {
  req: IncomingMessage;
  query: URLSearchParams;
  bucket: string;
  object: string;
  /**
   * Host names a signature may have been made for besides the request's Host: the local gateway
   * signs for the address it reaches the emulator by and then points each client at the host that
   * client used (emulators/gateway.ts), so a signature for a loopback name stands for this server.
   */
  hostAliases: readonly string[];
  signers: ReadonlyMap<string, TrustedSigner>;
  now?: number;
}

export async function checkSignedUrl(c: SignedUrlCheck): Promise<SignedUrlVerdict> {
  const q = c.query;
  const get = (name: string) => q.get(name) ?? undefined;
  if (get("X-Goog-Algorithm") !== "GOOG4-RSA-SHA256") return malformed("X-Goog-Algorithm", `unsupported algorithm ${JSON.stringify(get("X-Goog-Algorithm") ?? "")}`);
  const dateText = get("X-Goog-Date") ?? "";
  const signedAt = parseGoogDate(dateText);
  if (signedAt === undefined) return malformed("X-Goog-Date", "not a date of the form YYYYMMDD'T'HHMMSS'Z'");
  const expiresText = get("X-Goog-Expires") ?? "";
  const expires = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expires >= 1 && expires <= MAX_EXPIRES)) return malformed("X-Goog-Expires", `must be 1 to ${MAX_EXPIRES} seconds`);
  const credential = (get("X-Goog-Credential") ?? "").split("/");
  if (credential.length !== 5 || credential[2] !== "auto" || credential[3] !== "storage" || credential[4] !== "goog4_request")
    return malformed("X-Goog-Credential", "not of the form EMAIL/DATE/auto/storage/goog4_request");
  const signature = get("X-Goog-Signature") ?? "";
  if (!/^(?:[0-9a-f]{2})+$/i.test(signature)) return malformed("X-Goog-Signature", "not hexadecimal");
  const signedHeaders = (get("X-Goog-SignedHeaders") ?? "").split(";");
  if (!signedHeaders.includes("host")) return malformed("X-Goog-SignedHeaders", "must include host");

  const now = c.now ?? Date.now();
  const expiresAt = signedAt + expires * 1000;
  if (now > expiresAt)
    return { ok: false, status: 400, code: "ExpiredToken", message: "Invalid argument.", details: `The provided token has expired. Request signature expired at: ${new Date(expiresAt).toISOString()}` };

  const email = credential[0] as string;
  const signer = c.signers.get(email);
  const denied = (stringToSign?: string): SignedUrlVerdict => ({
    ok: false,
    status: 403,
    code: "SignatureDoesNotMatch",
    message: "Access denied.",
    details: "The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.",
    ...(stringToSign ? { stringToSign } : {}),
  });
  if (!signer) return denied();

  const extensionHeaders: Record<string, string> = {};
  for (const name of signedHeaders) {
    if (name === "host") continue;
    const v = c.req.headers[name];
    if (v === undefined) return denied();
    extensionHeaders[name] = Array.isArray(v) ? v.join(",") : v;
  }
  const queryParams: Record<string, string> = {};
  for (const [k, v] of q) if (!SIGNING_PARAMS.includes(k)) queryParams[k] = v;
  const sent = [...q].filter(([k]) => k !== "X-Goog-Signature").map(([k, v]) => `${k}=${v}`).sort().join("&");
  const signatureBytes = Buffer.from(signature, "hex");

  const requestHost = new URL(`http://${c.req.headers.host ?? "invalid"}`).hostname;
  let firstStringToSign: string | undefined;
  for (const hostname of [requestHost, ...c.hostAliases.filter((h) => h !== requestHost)]) {
    let stringToSign = "";
    const auth: SignerAuth = {
      getCredentials: async () => ({ client_email: email }),
      sign: async (blob) => {
        stringToSign = blob;
        return "";
      },
    };
    const signer4 = new URLSigner(auth, { name: c.bucket }, { name: c.object }, { apiEndpoint: `http://${hostname}`, universeDomain: "googleapis.com" });
    let rebuilt: URL;
    try {
      rebuilt = new URL(await signer4.getSignedUrl({ version: "v4", method: c.req.method ?? "GET", accessibleAt: new Date(signedAt), expires: expiresAt, host: `http://${hostname}`, extensionHeaders, queryParams }));
    } catch {
      return denied(); // e.g. expiry reached between the check above and now
    }
    firstStringToSign ??= stringToSign;
    // Every query parameter the signer wrote must be the one sent (a changed credential scope or
    // signed-header list, a parameter added or dropped), and the signature must cover them all.
    const expected = [...rebuilt.searchParams].filter(([k]) => k !== "X-Goog-Signature").map(([k, v]) => `${k}=${v}`).sort().join("&");
    if (expected !== sent) continue;
    if (verify("sha256", Buffer.from(stringToSign), signer.publicKey, signatureBytes)) return { ok: true };
  }
  return denied(firstStringToSign);
}

/** The XML error body of the GCS XML API. */
export function xmlError(v: Exclude<SignedUrlVerdict, { ok: true }>): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const sts = v.stringToSign === undefined ? "" : `<StringToSign>${esc(v.stringToSign)}</StringToSign>`;
  return `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${v.code}</Code><Message>${esc(v.message)}</Message><Details>${esc(v.details)}</Details>${sts}</Error>`;
}
