import { useEffect, useState } from 'preact/hooks';
import { api, asProblem, must, type ApiProblem, type Boot, type BootProfile, type Machine } from '../api/client';
import { bytes, shortSha, when } from '../format';
import { architecturesOf, furthest } from './fleet';
import { ProblemBox } from './problem';

type Netboot = Machine['netboot'];

export function MachineView({ id }: { id: string }) {
  const [machine, setMachine] = useState<Machine | null>(null);
  const [boots, setBoots] = useState<Boot[] | null>(null);
  const [profile, setProfile] = useState<BootProfile | null | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    let live = true;
    (async () => {
      const [m, b, p] = await Promise.all([
        api.GET('/api/v1/machines/{id}', { params: { path: { id } } }),
        api.GET('/api/v1/machines/{id}/boots', { params: { path: { id } } }),
        api.GET('/api/v1/boot/{machine_id}/profile', { params: { path: { machine_id: id } } }),
      ]);
      if (!live) return;
      setMachine(must(m));
      setBoots(must(b).boots);
      setProfile(p.response.status === 404 ? null : must(p));
    })().catch((err: unknown) => live && setProblem(asProblem(err)));
    return () => {
      live = false;
    };
  }, [id]);
  if (problem) return <ProblemBox problem={problem} action="Loading the machine" />;
  if (!machine) return <p role="status">Loading machine…</p>;
  return (
    <section aria-labelledby="machine-title">
      <h1 id="machine-title" tabIndex={-1}>{machine.hostname ?? machine.id}</h1>
      <p class="muted">Machine {machine.id}</p>
      <NetbootControl machine={machine} onChange={setMachine} />
      <Hardware machine={machine} />
      <Timeline boots={boots ?? []} />
      <ProfileSection machine={machine} profile={profile} />
      {profile !== undefined && <BootScript machine={machine} />}
    </section>
  );
}

function NetbootControl({ machine, onChange }: { machine: Machine; onChange: (m: Machine) => void }) {
  const [value, setValue] = useState<Netboot>(machine.netboot);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [saved, setSaved] = useState('');
  const save = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    setSaved('');
    try {
      const patched = must(await api.PATCH('/api/v1/machines/{id}', { params: { path: { id: machine.id } }, body: { netboot: value }, headers: { 'Content-Type': 'application/merge-patch+json' } }));
      onChange(patched);
      setSaved(`Netboot is now ${patched.netboot}.`);
    } catch (err) {
      setProblem(asProblem(err));
    }
  };
  return (
    <form onSubmit={save} class="netboot">
      <fieldset>
        <legend>Netboot</legend>
        {(['enabled', 'once', 'disabled'] as const).map((mode) => (
          <label key={mode} class="inline">
            <input type="radio" name="netboot" value={mode} checked={value === mode} onChange={() => setValue(mode)} /> {mode}
          </label>
        ))}
        <button type="submit">Apply netboot</button>
      </fieldset>
      {saved && <p role="status">{saved}</p>}
      <ProblemBox problem={problem} action="Changing netboot" />
    </form>
  );
}

function Hardware({ machine }: { machine: Machine }) {
  return (
    <section aria-labelledby="hw-title">
      <h2 id="hw-title">Hardware</h2>
      <dl class="facts">
        <dt>NICs</dt>
        <dd>{machine.nics.map((n) => n.mac).join(', ')}</dd>
        <dt>CPUs</dt>
        <dd>{machine.cpus.length ? machine.cpus.map((c) => `${c.manufacturer} ${c.cores} cores @ ${(c.clock_frequency / 1e9).toFixed(2)} GHz`).join('; ') : '-'}</dd>
        <dt>Memory</dt>
        <dd>{machine.memory_modules.length ? `${bytes(machine.memory_modules.reduce((s, m) => s + m.size, 0))} in ${machine.memory_modules.length} modules` : '-'}</dd>
        <dt>Drives</dt>
        <dd>{machine.drives.length ? machine.drives.map((d) => bytes(d.capacity)).join(', ') : '-'}</dd>
        <dt>Accelerators</dt>
        <dd>{machine.accelerators.length ? machine.accelerators.map((a) => a.manufacturer).join(', ') : '-'}</dd>
      </dl>
    </section>
  );
}

function Timeline({ boots }: { boots: Boot[] }) {
  return (
    <section aria-labelledby="boots-title">
      <h2 id="boots-title">Last boots</h2>
      {boots.length === 0 && <p>No boots recorded yet.</p>}
      <ol class="timeline">
        {boots.slice(0, 10).map((b) => {
          const last = furthest(b);
          return (
            <li key={b.id} class={last.failed ? 'failed' : undefined}>
              <p>
                <strong>{when(b.started_at)}</strong> · {b.mac} · {b.action === 'local' ? 'local disk' : 'profile'} · netboot {b.netboot}
                {last.failed && <strong class="badge"> stopped at {last.phase}</strong>}
              </p>
              <ul>
                {b.phases.map((p) => (
                  <li key={p.phase}>
                    {p.phase} at {when(p.at)} from {p.client_address}
                    {Object.entries(p)
                      .filter(([k]) => !['phase', 'at', 'client_address'].includes(k))
                      .map(([k, v]) => ` · ${k.replace(/_/g, ' ')} ${k.includes('bytes') && typeof v === 'number' ? bytes(v) : String(v)}`)
                      .join('')}
                  </li>
                ))}
              </ul>
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function ProfileSection({ machine, profile }: { machine: Machine; profile: BootProfile | null | undefined }) {
  return (
    <section aria-labelledby="profile-title">
      <h2 id="profile-title">Boot profile</h2>
      <p>
        <a href={`#/machines/${machine.id}/profile`}>{profile ? 'Replace the profile' : 'Set a profile'}</a>
      </p>
      {profile === undefined && <p role="status">Loading profile…</p>}
      {profile === null && <p>No profile: this machine gets 404 machine-not-configured from /boot.ipxe.</p>}
      {profile && (
        <>
          <table>
            <caption>Images per architecture (profile {profile.id})</caption>
            <thead>
              <tr>
                <th scope="col">Architecture</th>
                <th scope="col">Kernel</th>
                <th scope="col">Initrd</th>
              </tr>
            </thead>
            <tbody>
              {architecturesOf(profile).map((arch) => {
                const images = arch === 'x86_64' ? profile : profile.architectures?.[arch as keyof NonNullable<BootProfile['architectures']>];
                return images ? (
                  <tr key={arch}>
                    <th scope="row">{arch === 'x86_64' ? 'i386 / x86_64 (default)' : arch}</th>
                    <td>
                      {bytes(images.kernel.size)} <code title={images.kernel.sha256}>{images.kernel.sha256}</code>
                    </td>
                    <td>
                      {bytes(images.initrd.size)} <code title={images.initrd.sha256}>{images.initrd.sha256}</code>
                    </td>
                  </tr>
                ) : null;
              })}
            </tbody>
          </table>
          <h3>Kernel arguments as written</h3>
          <pre class="args" data-testid="args-written">{profile.kernel.args.length ? profile.kernel.args.join(' ') : '(none)'}</pre>
          <CloudInit machineId={machine.id} kind="user-data" summary={profile.user_data} />
          <CloudInit machineId={machine.id} kind="vendor-data" summary={profile.vendor_data} />
        </>
      )}
    </section>
  );
}

/** user-data / vendor-data as uploaded (the admin route), shown as text. */
function CloudInit({ machineId, kind, summary }: { machineId: string; kind: 'user-data' | 'vendor-data'; summary?: { format: string; size: number; sha256: string } }) {
  const [text, setText] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    if (!summary) return;
    api
      .GET('/api/v1/boot/{machine_id}/profile/{document}', { params: { path: { machine_id: machineId, document: kind } }, parseAs: 'text' })
      .then((answer) => setText(must(answer) as string))
      .catch((err: unknown) => setProblem(asProblem(err)));
  }, [machineId, kind, summary?.sha256]);
  return (
    <>
      <h3>{kind === 'user-data' ? 'User-data' : 'Vendor-data'}</h3>
      {!summary ? (
        <p>None.</p>
      ) : (
        <>
          <p class="muted">
            {summary.format}, {bytes(summary.size)}, sha256 {shortSha(summary.sha256)}
          </p>
          <ProblemBox problem={problem} action={`Reading ${kind}`} />
          <pre class="cloud-init" data-testid={kind}>
            {text ?? 'Loading…'}
          </pre>
        </>
      )}
    </>
  );
}

/** What /boot.ipxe answers this machine, from the admin preview (records nothing). */
function BootScript({ machine }: { machine: Machine }) {
  const [arch, setArch] = useState('x86_64');
  const [platform, setPlatform] = useState('efi');
  const [mac, setMac] = useState(machine.nics[0]?.mac ?? '');
  const [script, setScript] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    let live = true;
    setProblem(null);
    api
      .GET('/api/v1/machines/{id}/boot-script', { params: { path: { id: machine.id }, query: { arch, platform, mac } }, parseAs: 'text' })
      .then((answer) => live && setScript(must(answer) as string))
      .catch((err: unknown) => {
        if (!live) return;
        setScript(null);
        setProblem(asProblem(err));
      });
    return () => {
      live = false;
    };
  }, [machine.id, machine.netboot, arch, platform, mac]);
  const kernelLine = script?.split('\n').find((l) => l.startsWith('kernel '));
  const rendered = kernelLine?.replace(/ && goto .*$/, '').split(' ').slice(2).filter((t) => !t.startsWith('initrd=') && !t.startsWith('netboot.token=')).join(' ');
  return (
    <section aria-labelledby="script-title">
      <h2 id="script-title">Boot script</h2>
      <p>Exactly what /boot.ipxe answers this machine now, except the per-boot token (a placeholder). Looking records no boot.</p>
      <div class="row">
        <label>
          NIC{' '}
          <select value={mac} onChange={(e) => setMac(e.currentTarget.value)}>
            {machine.nics.map((n) => (
              <option key={n.mac}>{n.mac}</option>
            ))}
          </select>
        </label>
        <label>
          Architecture{' '}
          <select value={arch} onChange={(e) => setArch(e.currentTarget.value)}>
            {['x86_64', 'i386', 'arm64', 'arm32', 'riscv64', 'riscv32', 'loong64'].map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
        <label>
          Platform{' '}
          <select value={platform} onChange={(e) => setPlatform(e.currentTarget.value)}>
            <option>efi</option>
            <option>pcbios</option>
          </select>
        </label>
      </div>
      {rendered !== undefined && (
        <>
          <h3>Kernel arguments as this machine gets them</h3>
          <pre class="args" data-testid="args-rendered">{rendered || '(none)'}</pre>
        </>
      )}
      <ProblemBox problem={problem} action="Previewing the boot script" />
      {script !== null && (
        <pre class="script" data-testid="boot-script" tabIndex={0} aria-label="Boot script">
          {script}
        </pre>
      )}
    </section>
  );
}
