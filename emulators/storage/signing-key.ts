// The key the local stack signs Storage URLs with, and the one the Storage emulator trusts: kept
// under .cache/local-storage-signer so that a stack and an emulator in different processes
// (`npm run emulators` beside `npm start`, the gateway children of the tests and the bench) agree,
// as Cloud Storage and IAM agree on a service account's keys. Never used in production, where URLs
// are signed through IAM signBlob.
import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const localSignerDir = resolve(__dirname, "../../.cache/local-storage-signer");
export const localSignerEmail = "local-signer@demo-netboot.iam.gserviceaccount.com";

export interface SigningCredentials {
  client_email: string;
  private_key: string;
}

/** A service account's email and its public key: what the emulator checks V4 signatures against. */
export interface TrustedSigner {
  email: string;
  publicKey: KeyObject;
}

/** A fresh RSA key under `email` (a key nobody trusts unless told). */
export function generateSigningCredentials(email: string): SigningCredentials {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
  return { client_email: email, private_key: privateKey };
}

/** The local signing key, made on first use. Safe against concurrent first uses (test workers). */
export function localSigningCredentials(dir = localSignerDir): SigningCredentials {
  const file = join(dir, "key.json");
  try {
    return JSON.parse(readFileSync(file, "utf8")) as SigningCredentials;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, JSON.stringify(generateSigningCredentials(localSignerEmail)), { mode: 0o600 });
  try {
    linkSync(tmp, file); // atomic: the first writer wins, the others read its key
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    unlinkSync(tmp);
  }
  return JSON.parse(readFileSync(file, "utf8")) as SigningCredentials;
}

export function trustedSigner(credentials: SigningCredentials): TrustedSigner {
  return { email: credentials.client_email, publicKey: createPublicKey(credentials.private_key) };
}
