/**
 * The console's response headers, the same locally (emulators/console-server.ts) and deployed
 * (functions/console/assets.ts). The Content-Security-Policy allows scripts and styles from the
 * console's own origin only (no inline script, no eval), WebAssembly compilation (hash-wasm's
 * SHA-256: 'wasm-unsafe-eval' permits WebAssembly.compile and nothing of JavaScript's eval),
 * API calls to its own origin and uploads to Cloud Storage, Google Identity Services when
 * production sign-in is on, and no framing at all.
 */
export interface ConsoleCspOptions {
  /** Where upload session URLs point: https://storage.googleapis.com, or the Storage emulator locally. */
  storageOrigin: string;
  /** Production sign-in: Google Identity Services' script, frame and token endpoints. */
  googleSignIn: boolean;
}

const gis = 'https://accounts.google.com/gsi/';

export function consoleCsp({ storageOrigin, googleSignIn }: ConsoleCspOptions): string {
  return [
    "default-src 'none'",
    `script-src 'self' 'wasm-unsafe-eval'${googleSignIn ? ` ${gis}client` : ''}`,
    `style-src 'self'${googleSignIn ? ` ${gis}style` : ''}`,
    "img-src 'self' data:",
    `connect-src 'self' ${storageOrigin}${googleSignIn ? ` ${gis}` : ''}`,
    ...(googleSignIn ? [`frame-src ${gis}`] : []),
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers of every console answer. */
export function consoleSecurityHeaders(csp: ConsoleCspOptions): Record<string, string> {
  return {
    'Content-Security-Policy': consoleCsp(csp),
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
}

/** index.html and config.json: revalidated every time (they name the current hashed files); hashed files: for good. */
export const consoleCache = { page: 'no-cache', immutable: 'public, max-age=31536000, immutable' } as const;

export const consoleMediaTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
};

/** index.html with the sign-in configuration in its meta tags (the page reads them before its first render). */
export function withSignInMeta(html: string, config: { signIn: 'local' | 'google'; googleClientId?: string }): string {
  const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return html
    .replace('<meta name="netboot-sign-in" content="" />', `<meta name="netboot-sign-in" content="${attr(config.signIn)}" />`)
    .replace('<meta name="netboot-google-client-id" content="" />', `<meta name="netboot-google-client-id" content="${attr(config.googleClientId ?? '')}" />`);
}

/** A content-hashed asset name as esbuild writes them (main-ABCDEFGH.js): safe to cache for good, safe as a path. */
export const hashedAssetName = /^[a-z]+-[A-Z0-9]{8}\.(js|css)$/;
