import { useEffect, useRef, useState } from 'preact/hooks';
import { googleSignIn, localSignIn, type ConsoleConfig } from '../auth';

export function SignIn({ config, note }: { config: ConsoleConfig; note?: string }) {
  const [email, setEmail] = useState('admin@netboot.local');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const google = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (config.signIn === 'google' && config.googleClientId && google.current) googleSignIn(google.current, config.googleClientId);
  }, [config]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await localSignIn(email);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="signin-title" class="signin">
      <h1 id="signin-title" tabIndex={-1}>Sign in to the netboot console</h1>
      {note && <p role="status">{note}</p>}
      {config.signIn === 'local' ? (
        <form onSubmit={submit}>
          <p>Local stack: the gateway's own issuer signs a token for this email (never deployed).</p>
          <label for="email">Email</label>
          <input id="email" type="email" autocomplete="username" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
          <button type="submit" disabled={busy}>
            Sign in
          </button>
          {error && (
            <p role="alert" class="problem">
              {error}
            </p>
          )}
        </form>
      ) : (
        <div>
          <p>Sign in with the Google account the service lists as an administrator.</p>
          <div ref={google} />
        </div>
      )}
    </section>
  );
}
