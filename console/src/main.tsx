import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { currentToken, loadConfig, onAuthChange, signedInEmail, signOut, type ConsoleConfig } from './auth';
import { Discoveries, Register } from './views/discoveries';
import { Fleet } from './views/fleet';
import { MachineView } from './views/machine';
import { ProfileEditor } from './views/profile-editor';
import { SignIn } from './views/signin';
import './styles.css';

/** Routes live in the fragment (#/fleet, #/machines/ID, ...): the server serves one index.html. */
function useRoute(): { path: string; query: URLSearchParams } {
  const read = () => {
    const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
    return { path: path || '/fleet', query: new URLSearchParams(query) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function App({ config }: { config: ConsoleConfig }) {
  const [token, setToken] = useState(currentToken());
  const [note, setNote] = useState<string | undefined>();
  useEffect(
    () =>
      onAuthChange((n) => {
        setToken(currentToken());
        setNote(n);
      }),
    [],
  );
  const { path, query } = useRoute();
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [path]);
  if (!token) {
    return (
      <main id="main">
        <SignIn config={config} note={note} />
      </main>
    );
  }
  const machine = /^\/machines\/([\w-]+)(\/profile)?$/.exec(path);
  let view;
  if (path === '/fleet') view = <Fleet query={query} />;
  else if (path === '/discoveries') view = <Discoveries query={query} />;
  else if (path === '/register') view = <Register query={query} />;
  else if (path === '/default-profile') view = <ProfileEditor machineId="default" />;
  else if (machine?.[2]) view = <ProfileEditor key={machine[1]} machineId={machine[1] as string} />;
  else if (machine) view = <MachineView key={machine[1]} id={machine[1] as string} />;
  else view = <p>Nothing here: go to the <a href="#/fleet">fleet</a>.</p>;
  const current = (p: string) => (path.startsWith(p) ? 'page' : undefined);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">netboot</span>
        <nav aria-label="Console">
          <a href="#/fleet" aria-current={current('/fleet') || current('/machines')}>
            Fleet
          </a>
          <a href="#/discoveries" aria-current={current('/discoveries') || current('/register')}>
            Discoveries
          </a>
          <a href="#/default-profile" aria-current={current('/default-profile')}>
            Default profile
          </a>
        </nav>
        <span class="who">{signedInEmail()}</span>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {view}
      </main>
    </>
  );
}

const root = document.getElementById('app') as HTMLElement;
loadConfig()
  .then((config) => render(<App config={config} />, root))
  .catch((err: unknown) => {
    root.textContent = `The console could not load its configuration: ${err instanceof Error ? err.message : String(err)}`;
  });
