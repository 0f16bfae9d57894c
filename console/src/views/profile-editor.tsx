import { useEffect, useState } from 'preact/hooks';
import { api, asProblem, type ApiProblem } from '../api/client';
import { bytes, duration, navigate } from '../format';
import type { FileProgress } from '../upload';
import { savedUpload } from '../upload-state';
import { ProblemBox } from './problem';

const extraArchitectures = ['arm64', 'arm32', 'riscv64', 'riscv32', 'loong64'] as const;

/** Kernel, initrd (and one more architecture's pair), kernel arguments, user-data and vendor-data, through an upload session. */
export function ProfileEditor({ machineId }: { machineId: string }) {
  const [files, setFiles] = useState<Record<string, File | undefined>>({});
  const [arch, setArch] = useState<(typeof extraArchitectures)[number]>('arm64');
  const [args, setArgs] = useState('');
  const [userData, setUserData] = useState('');
  const [vendorData, setVendorData] = useState('');
  const [progress, setProgress] = useState<Record<string, FileProgress>>({});
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  // An upload this tab left unfinished (a reload, a lost connection), as found when the view opened.
  const [interrupted] = useState(() => {
    const saved = savedUpload();
    return saved && saved.machineId === machineId ? saved : null;
  });

  useEffect(() => {
    // Start from the kernel arguments the profile has now.
    const get = machineId === 'default' ? api.GET('/api/v1/boot/default/profile') : api.GET('/api/v1/boot/{machine_id}/profile', { params: { path: { machine_id: machineId } } });
    void get.then((answer) => {
      if (answer.data && !interrupted) setArgs(answer.data.kernel.args.join('\n'));
    });
    if (interrupted) setArgs(interrupted.kernelArgs.join('\n'));
  }, [machineId]);

  const pick = (name: string) => (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    setFiles((all) => ({ ...all, [name]: file }));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setProblem(null);
    setDone('');
    const chosen: Record<string, File> = {};
    for (const [name, file] of Object.entries(files)) {
      if (!file) continue;
      chosen[name.startsWith('extra-') ? `${name.slice(6)}.${arch}` : name] = file;
    }
    setBusy(true);
    try {
      // The upload code (hash-wasm's SHA-256) loads when first needed: the first render does without it.
      const { uploadProfile } = await import('../upload');
      const result = await uploadProfile(
        {
          machineId,
          files: chosen,
          kernelArgs: args
            .split('\n')
            .map((a) => a.trim())
            .filter(Boolean),
          userData: userData || undefined,
          vendorData: vendorData || undefined,
        },
        (p) => setProgress((all) => ({ ...all, [p.name]: p })),
      );
      setDone(`Saved profile ${result.profile.id}${result.resumed ? ' (resumed upload session)' : ''}.`);
      if (machineId !== 'default') setTimeout(() => navigate(`#/machines/${machineId}`), 800);
    } catch (err) {
      setProblem(asProblem(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="editor-title">
      <h1 id="editor-title" tabIndex={-1}>{machineId === 'default' ? 'Default profile' : 'Boot profile'}</h1>
      <p>
        {machineId === 'default' ? 'What unregistered MACs boot. ' : <a href={`#/machines/${machineId}`}>Back to the machine</a>}
      </p>
      {interrupted && !busy && !done && (
        <p role="status" class="notice">
          An upload of this profile was interrupted (session {interrupted.sessionId}). Choose the same files again ({Object.entries(interrupted.digests).map(([n, d]) => `${n} ${bytes(d.size)}`).join(', ')}) and upload: it resumes where
          Storage stands.
        </p>
      )}
      <form onSubmit={submit} class="stack">
        <label for="kernel">Kernel</label>
        <input id="kernel" type="file" onChange={pick('kernel')} required />
        <label for="initrd">Initrd</label>
        <input id="initrd" type="file" onChange={pick('initrd')} required />
        <fieldset class="stack">
          <legend>Another architecture (optional)</legend>
          <label for="arch">Architecture</label>
          <select id="arch" value={arch} onChange={(e) => setArch(e.currentTarget.value as typeof arch)}>
            {extraArchitectures.map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
          <label for="extra-kernel">Its kernel</label>
          <input id="extra-kernel" type="file" onChange={pick('extra-kernel')} />
          <label for="extra-initrd">Its initrd</label>
          <input id="extra-initrd" type="file" onChange={pick('extra-initrd')} />
        </fieldset>
        <label for="args">Kernel arguments (one per line; {'{{machine_id}} {{mac}} {{hostname}} {{base_url}} {{arch}} {{platform}}'} are filled in per boot)</label>
        <textarea id="args" rows={4} value={args} onInput={(e) => setArgs(e.currentTarget.value)} />
        <label for="user-data">cloud-init user-data (optional: #cloud-config, a #! script or MIME multi-part)</label>
        <textarea id="user-data" rows={5} value={userData} onInput={(e) => setUserData(e.currentTarget.value)} />
        <label for="vendor-data">cloud-init vendor-data (optional)</label>
        <textarea id="vendor-data" rows={3} value={vendorData} onInput={(e) => setVendorData(e.currentTarget.value)} />
        <div>
          <button type="submit" disabled={busy}>
            {busy ? 'Uploading…' : 'Upload and save profile'}
          </button>
        </div>
      </form>
      {Object.keys(progress).length > 0 && (
        <ul class="progress" aria-label="Upload progress">
          {Object.values(progress).map((p) => (
            <li key={p.name} data-file={p.name} data-phase={p.phase} data-done={p.done} data-resumed-from={p.resumedFrom}>
              <label>
                <span>
                  {p.name}: {phaseText(p)}
                </span>
                <progress max={p.total} value={p.phase === 'waiting' ? 0 : p.done} />
              </label>
            </li>
          ))}
        </ul>
      )}
      {done && <p role="status">{done}</p>}
      <ProblemBox problem={problem} action="Saving the profile" />
    </section>
  );
}

function phaseText(p: FileProgress): string {
  switch (p.phase) {
    case 'waiting':
      return `waiting (${bytes(p.total)})`;
    case 'held':
      return `the service already has it (${bytes(p.total)}): not sent`;
    case 'done':
      return `uploaded ${bytes(p.total)}${p.resumedFrom ? ` (resumed at ${bytes(p.resumedFrom)})` : ''}`;
    default:
      return `${p.phase} ${bytes(p.done)} of ${bytes(p.total)} · ${bytes(Math.round(p.rate))}/s · ${duration(p.secondsLeft)} left${p.resumedFrom ? ` · resumed at ${bytes(p.resumedFrom)}` : ''}`;
  }
}
