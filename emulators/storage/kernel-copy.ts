// Concatenates open files into another one inside the kernel: GNU cat (coreutils >= 9) copies
// regular files with copy_file_range, so no byte passes through this process. One long-lived
// shell runs the cat processes: forking this Node process for each one costs 6-14 ms (its page
// tables), forking the small shell about 1 ms. The shell opens the files as /proc/<pid>/fd/<n> of
// this process: the caller keeps the descriptors open until the copy is done, so a file unlinked
// meanwhile (a deleted or replaced object) is still read whole.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";

// Reads "<id> <out fd> <src fd>..." lines; each copy runs in the background and reports "<exit status> <id>".
const SCRIPT = `p=$0
while read -r id out srcs; do
  (
    set --
    for f in $srcs; do set -- "$@" "/proc/$p/fd/$f"; done
    cat -- "$@" 1<>"/proc/$p/fd/$out"
    echo "$? $id"
  ) &
done`;

export class KernelCopier {
  private sh?: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private stderr = "";

  private shell(): ChildProcessByStdio<Writable, Readable, Readable> {
    if (this.sh && this.sh.exitCode === null && !this.sh.killed) return this.sh;
    const sh = spawn("sh", ["-c", SCRIPT, String(process.pid)], { stdio: ["pipe", "pipe", "pipe"] });
    this.sh = sh;
    let out = "";
    sh.stdout.setEncoding("utf8");
    sh.stdout.on("data", (d: string) => {
      out += d;
      for (let i = out.indexOf("\n"); i >= 0; i = out.indexOf("\n")) {
        const [status, id] = out.slice(0, i).split(" ");
        out = out.slice(i + 1);
        const w = this.pending.get(Number(id));
        if (!w) continue;
        this.pending.delete(Number(id));
        if (status === "0") w.resolve();
        else w.reject(new Error(`cat exited with status ${status}: ${this.stderr.trim().slice(-500)}`));
        this.stderr = "";
      }
    });
    sh.stderr.setEncoding("utf8");
    sh.stderr.on("data", (d: string) => {
      this.stderr = (this.stderr + d).slice(-2000);
    });
    const fail = (err: Error) => {
      if (this.sh === sh) this.sh = undefined;
      for (const w of this.pending.values()) w.reject(err);
      this.pending.clear();
    };
    sh.on("error", fail);
    sh.on("exit", (code, signal) => fail(new Error(`copy helper exited (${signal ?? code})`)));
    sh.stdin.on("error", () => undefined); // a dead helper is reported by "exit"
    // Idle, it must not keep the process alive; a pending copy holds it by its promise's caller.
    sh.unref();
    for (const s of [sh.stdin, sh.stdout, sh.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    return sh;
  }

  /** Starts the helper ahead of the first copy (its spawn costs what a copy of ~50 MiB does). */
  start(): void {
    this.shell();
  }

  /** Appends the files open as `sources` (in order) to `out`, from offset 0 of each. */
  concat(out: number, sources: readonly number[]): Promise<void> {
    if (sources.length === 0) return Promise.resolve();
    const sh = this.shell();
    const id = ++this.nextId;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      sh.stdin.write(`${id} ${out} ${sources.join(" ")}\n`);
    });
  }

  /** Ends the helper (copies under way finish on their own). */
  async close(): Promise<void> {
    const sh = this.sh;
    this.sh = undefined;
    if (!sh || sh.exitCode !== null) return;
    const exited = new Promise<void>((r) => sh.once("exit", () => r()));
    sh.stdin.end();
    await exited;
  }
}
