import { useEffect, useState } from 'preact/hooks';
import { api, asProblem, must, type ApiProblem, type Discovery, type Pagination } from '../api/client';
import { navigate, when } from '../format';
import { ProblemBox } from './problem';

export function Discoveries({ query }: { query: URLSearchParams }) {
  const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
  const [items, setItems] = useState<Discovery[] | null>(null);
  const [pagination, setPagination] = useState<Pagination | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    let live = true;
    api
      .GET('/api/v1/discoveries', { params: { query: { page: String(page), per_page: '20' } } })
      .then((answer) => {
        const list = must(answer);
        if (!live) return;
        setItems(list.discoveries);
        setPagination(list.pagination);
      })
      .catch((err: unknown) => live && setProblem(asProblem(err)));
    return () => {
      live = false;
    };
  }, [page]);
  return (
    <section aria-labelledby="discoveries-title">
      <h1 id="discoveries-title" tabIndex={-1}>Discoveries</h1>
      <p>MACs that asked for a boot script and belong to no machine. Register one to give it a machine.</p>
      <ProblemBox problem={problem} action="Listing discoveries" />
      {!items && !problem && <p role="status">Loading discoveries…</p>}
      {items && (
        <table>
          <caption>{pagination ? `${pagination.total} unknown MAC${pagination.total === 1 ? '' : 's'}` : 'Unknown MACs'}</caption>
          <thead>
            <tr>
              <th scope="col">MAC</th>
              <th scope="col">First seen</th>
              <th scope="col">Last seen</th>
              <th scope="col">Requests</th>
              <th scope="col">Arch</th>
              <th scope="col">Platform</th>
              <th scope="col">Client address</th>
              <th scope="col">
                <span class="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.length === 0 && (
              <tr>
                <td colSpan={8}>No unknown MACs have asked for a boot script.</td>
              </tr>
            )}
            {items.map((d) => (
              <tr key={d.mac}>
                <th scope="row">{d.mac}</th>
                <td>{when(d.first_seen)}</td>
                <td>{when(d.last_seen)}</td>
                <td>{d.requests}</td>
                <td>{d.arch ?? '-'}</td>
                <td>{d.platform ?? '-'}</td>
                <td>{d.client_address}</td>
                <td>
                  <button type="button" onClick={() => navigate(`#/register?mac=${encodeURIComponent(d.mac)}`)} aria-label={`Register ${d.mac}`}>
                    Register
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pagination && pagination.total_pages > 1 && (
        <nav aria-label="Pages" class="pager">
          <button type="button" disabled={page <= 1} onClick={() => navigate(`#/discoveries?page=${page - 1}`)}>
            Previous page
          </button>
          <span>
            Page {pagination.page} of {pagination.total_pages}
          </span>
          <button type="button" disabled={page >= pagination.total_pages} onClick={() => navigate(`#/discoveries?page=${page + 1}`)}>
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}

/** The machine form: a new machine with the MAC a discovery (or the operator) gives. */
export function Register({ query }: { query: URLSearchParams }) {
  const [hostname, setHostname] = useState('');
  const [macs, setMacs] = useState(query.get('mac') ?? '');
  const [netboot, setNetboot] = useState<'enabled' | 'disabled' | 'once'>('enabled');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      const nics = macs
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((mac) => ({ mac }));
      const created = must(await api.POST('/api/v1/machines', { body: { nics, netboot, ...(hostname.trim() ? { hostname: hostname.trim() } : {}) } as never }));
      navigate(`#/machines/${created.id}`);
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="register-title">
      <h1 id="register-title" tabIndex={-1}>Register a machine</h1>
      <form onSubmit={submit} class="stack">
        <label for="macs">MAC addresses (one per line or comma-separated)</label>
        <textarea id="macs" rows={2} value={macs} onInput={(e) => setMacs(e.currentTarget.value)} required />
        <label for="hostname">Host name (optional)</label>
        <input id="hostname" value={hostname} onInput={(e) => setHostname(e.currentTarget.value)} />
        <label for="netboot">Netboot</label>
        <select id="netboot" value={netboot} onChange={(e) => setNetboot(e.currentTarget.value as typeof netboot)}>
          <option value="enabled">enabled: always boot the profile</option>
          <option value="once">once: boot the profile once, then the local disk</option>
          <option value="disabled">disabled: boot the local disk</option>
        </select>
        <div>
          <button type="submit" disabled={busy}>
            Save machine
          </button>
        </div>
        <ProblemBox problem={problem} action="Registering" />
      </form>
    </section>
  );
}
