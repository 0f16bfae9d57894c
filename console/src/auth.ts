/**
 * The admin's ID token: in memory and in sessionStorage (this tab only, gone when it closes),
 * never in a URL or in localStorage. Locally the gateway's issuer mints it (POST
 * /console/local-token, never deployed); in production Google Identity Services does.
 */
const key = 'netboot.console.token';
let token: string | null = sessionStorage.getItem(key);
const listeners = new Set<(note?: string) => void>();

export function currentToken(): string | null {
  return token;
}

export function signedInEmail(): string | null {
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split('.')[1]?.replace(/-/g, '+').replace(/_/g, '/') ?? '')) as { email?: string };
    return payload.email ?? null;
  } catch {
    return null;
  }
}

export function signIn(newToken: string): void {
  token = newToken;
  sessionStorage.setItem(key, newToken);
  listeners.forEach((l) => l());
}

export function signOut(note?: string): void {
  token = null;
  sessionStorage.removeItem(key);
  listeners.forEach((l) => l(note));
}

export function onAuthChange(listener: (note?: string) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** What /console/config.json says about signing in. */
export interface ConsoleConfig {
  signIn: 'local' | 'google';
  /** Google: the OAuth client id whose ID tokens the API accepts (its ADMIN_TOKEN_AUDIENCE). */
  googleClientId?: string;
}

/** The server writes the configuration into index.html's meta tags (no round trip before the first render); else config.json. */
export async function loadConfig(): Promise<ConsoleConfig> {
  const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? '';
  const signIn = meta('netboot-sign-in');
  if (signIn === 'local' || signIn === 'google') return { signIn, googleClientId: meta('netboot-google-client-id') || undefined };
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: ${res.status}`);
  return (await res.json()) as ConsoleConfig;
}

/** Locally: a token for `email` from the local gateway's issuer. */
export async function localSignIn(email: string): Promise<void> {
  const res = await fetch('local-token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email }) });
  const body = (await res.json().catch(() => ({}))) as { token?: string; title?: string; detail?: string };
  if (!res.ok || !body.token) throw new Error(body.detail ?? `the local issuer answered ${res.status}`);
  signIn(body.token);
}

interface GoogleId {
  accounts: { id: { initialize(o: { client_id: string; callback: (r: { credential: string }) => void; auto_select?: boolean }): void; renderButton(el: HTMLElement, o: Record<string, unknown>): void } };
}

/** Production: Google Identity Services' button; its credential is an ID token for the client id (the API's audience). */
export function googleSignIn(container: HTMLElement, clientId: string): void {
  const script = document.createElement('script');
  script.src = 'https://accounts.google.com/gsi/client';
  script.async = true;
  script.onload = () => {
    const google = (window as unknown as { google: GoogleId }).google;
    google.accounts.id.initialize({ client_id: clientId, callback: (r) => signIn(r.credential) });
    google.accounts.id.renderButton(container, { theme: 'outline', size: 'large', text: 'signin_with' });
  };
  document.head.append(script);
}
