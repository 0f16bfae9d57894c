import { useEffect, useState } from 'preact/hooks';
import { api, asProblem, must, type ApiProblem, type Boot, type BootProfile, type Machine, type Pagination } from '../api/client';
import { bytes, shortSha, when } from '../format';
import { ProblemBox } from './problem';

const perPage = 20;
const macLike = /^[\da-f]{2}([:-])[\da-f]{2}(\1[\da-f]{2}){4}$/i;

/** A machine's last boot and profile, asked per row (the list carries neither), four at a time. */
interface RowDetail {
  boot?: Boot | null;
  profile?: BootProfile | null;
  problem?: ApiProblem;
}

/** The furthest phase of a boot, and whether it stopped before `booting`. */
export function furthest(boot: Boot): { phase: string; at: string | null; failed: boolean } {
  const last = boot.phases[boot.phases.length - 1];
  const phase = last?.phase ?? 'none';
  return { phase, at: last?.at ?? boot.started_at, failed: boot.action === 'profile' && phase !== 'booting' && phase !== 'installed' };
}

export function architecturesOf(profile: BootProfile): string[] {
  return ['x86_64', ...Object.keys(profile.architectures ?? {})];
}

async function detailOf(id: string): Promise<RowDetail> {
  try {
    const [boots, profile] = await Promise.all([api.GET('/api/v1/machines/{id}/boots', { params: { path: { id } } }), api.GET('/api/v1/boot/{machine_id}/profile', { params: { path: { machine_id: id } } })]);
    return { boot: must(boots).boots[0] ?? null, profile: profile.response.status === 404 ? null : must(profile) };
  } catch (err) {
    return { problem: asProblem(err) };
  }
}

export function Fleet({ query }: { query: URLSearchParams }) {
  const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
  const filter = query.get('q') ?? '';
  const [machines, setMachines] = useState<Machine[] | null>(null);
  const [pagination, setPagination] = useState<Pagination | null>(null);
  const [details, setDetails] = useState<Record<string, RowDetail>>({});
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [text, setText] = useState(filter);
  const [note, setNote] = useState('');

  useEffect(() => {
    let live = true;
    setMachines(null);
    setProblem(null);
    setDetails({});
    (async () => {
      if (filter && !macLike.test(filter)) {
        // The API filters by MAC only: a host-name filter reads the fleet 100 at a time.
        const found: Machine[] = [];
        let p = 1;
        let total = 0;
        for (;;) {
          const list = must(await api.GET('/api/v1/machines', { params: { query: { page: String(p), per_page: '100' } } }));
          total = list.pagination.total;
          found.push(...list.machines.filter((m) => (m.hostname ?? '').toLowerCase().includes(filter.toLowerCase())));
          if (!live || p >= list.pagination.total_pages || found.length >= 100) break;
          p++;
        }
        if (!live) return;
        setNote(`${found.length} machine${found.length === 1 ? '' : 's'} whose host name contains "${filter}" (searched ${Math.min(p * 100, total)} of ${total})`);
        setMachines(found.slice(0, 100));
        setPagination(null);
        return;
      }
      const list = must(await api.GET('/api/v1/machines', { params: { query: { page: String(page), per_page: String(perPage), ...(filter ? { mac: filter } : {}) } } }));
      if (!live) return;
      setNote(filter ? `Machines with MAC ${filter}` : '');
      setMachines(list.machines);
      setPagination(list.pagination);
    })().catch((err: unknown) => live && setProblem(asProblem(err)));
    return () => {
      live = false;
    };
  }, [page, filter]);

  useEffect(() => {
    if (!machines) return;
    let live = true;
    const queue = [...machines];
    const worker = async () => {
      for (let m = queue.shift(); m && live; m = queue.shift()) {
        const id = m.id;
        const d = await detailOf(id);
        if (live) setDetails((all) => ({ ...all, [id]: d }));
      }
    };
    void Promise.all([worker(), worker(), worker(), worker()]);
    return () => {
      live = false;
    };
  }, [machines]);

  const go = (q: string, p: number) => {
    location.hash = `#/fleet?${new URLSearchParams({ ...(q ? { q } : {}), page: String(p) }).toString()}`;
  };

  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title" tabIndex={-1}>Fleet</h1>
      <form
        class="filter"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go(text.trim(), 1);
        }}
      >
        <label for="filter">Filter by MAC or host name</label>
        <input id="filter" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="52:54:00:12:34:56 or web-" />
        <button type="submit">Filter</button>
        {filter && (
          <button type="button" onClick={() => go('', 1)}>
            Clear
          </button>
        )}
      </form>
      <ProblemBox problem={problem} action="Listing machines" />
      {note && <p role="status">{note}</p>}
      {!machines && !problem && <p role="status">Loading machines…</p>}
      {machines && (
        <table class="fleet">
          <caption>{pagination ? `Machines ${(pagination.page - 1) * pagination.per_page + (machines.length ? 1 : 0)}-${(pagination.page - 1) * pagination.per_page + machines.length} of ${pagination.total}` : 'Machines'}</caption>
          <thead>
            <tr>
              <th scope="col">Host name</th>
              <th scope="col">MACs</th>
              <th scope="col">Netboot</th>
              <th scope="col">Last boot</th>
              <th scope="col">Kernel</th>
              <th scope="col">Initrd</th>
              <th scope="col">Architectures</th>
            </tr>
          </thead>
          <tbody>
            {machines.length === 0 && (
              <tr>
                <td colSpan={7}>No machines{filter ? ' match' : ' yet: register one from Discoveries'}.</td>
              </tr>
            )}
            {machines.map((m) => {
              const d = details[m.id];
              const last = d?.boot ? furthest(d.boot) : null;
              return (
                <tr key={m.id} class={last?.failed ? 'failed' : undefined}>
                  <th scope="row">
                    <a href={`#/machines/${m.id}`}>{m.hostname ?? m.id}</a>
                  </th>
                  <td>{m.nics.map((n) => n.mac).join(', ')}</td>
                  <td>{m.netboot}</td>
                  <td>
                    {!d ? '…' : d.problem ? `(${d.problem.title})` : last ? (
                      <>
                        {last.failed ? <strong class="badge">stopped at {last.phase}</strong> : last.phase} <span class="muted">{when(last.at)}</span>
                      </>
                    ) : (
                      'never booted'
                    )}
                  </td>
                  <td>{d?.profile ? `${bytes(d.profile.kernel.size)} · ${shortSha(d.profile.kernel.sha256)}` : d ? 'no profile' : '…'}</td>
                  <td>{d?.profile ? `${bytes(d.profile.initrd.size)} · ${shortSha(d.profile.initrd.sha256)}` : d ? '-' : '…'}</td>
                  <td>{d?.profile ? architecturesOf(d.profile).join(', ') : '-'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {pagination && pagination.total_pages > 1 && (
        <nav aria-label="Pages" class="pager">
          <button type="button" disabled={page <= 1} onClick={() => go(filter, page - 1)}>
            Previous page
          </button>
          <span>
            Page {pagination.page} of {pagination.total_pages}
          </span>
          <button type="button" disabled={page >= pagination.total_pages} onClick={() => go(filter, page + 1)}>
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}
