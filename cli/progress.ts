// Progress of file transfers: cli-progress bars on a terminal, plain lines otherwise.
import cliProgress from 'cli-progress';

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export interface FileProgress {
  /** Position in the file (bytes). */
  update(position: number): void;
  /** A line about this file (retries, skips), shown without breaking the bars. */
  note(text: string): void;
  done(summary: string): void;
}

export interface ProgressReporter {
  file(name: string, total: number, start: number): FileProgress;
  log(text: string): void;
  stop(): void;
}

interface Options {
  /** Bars (true) or plain lines (false). */
  tty: boolean;
  stream?: NodeJS.WriteStream;
  /** Plain mode: at most one line per interval per file (default 1000 ms; 0: every update). */
  intervalMs?: number;
}

/** Rate over the last few seconds, for the bar's `{rate}`. */
class RateMeter {
  private samples: { t: number; v: number }[] = [];
  add(v: number): number {
    const t = Date.now();
    this.samples.push({ t, v });
    while (this.samples.length > 2 && t - (this.samples[0] as { t: number }).t > 5000) this.samples.shift();
    const first = this.samples[0] as { t: number; v: number };
    const dt = (t - first.t) / 1000;
    return dt > 0 ? (v - first.v) / dt : 0;
  }
}

export function createProgress(opts: Options): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  if (opts.tty) return barProgress(stream);
  return lineProgress(stream, opts.intervalMs ?? 1000);
}

function barProgress(stream: NodeJS.WriteStream): ProgressReporter {
  const multi = new cliProgress.MultiBar(
    {
      stream,
      format: '{name} [{bar}] {percentage}% | {done}/{size} | {rate}/s | ETA {eta_formatted}',
      barCompleteChar: '\u2588',
      barIncompleteChar: '\u2591',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 50,
      fps: 10,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    file(name, total, start) {
      const meter = new RateMeter();
      meter.add(start);
      const bar = multi.create(Math.max(total, 1), start, { name: name.padEnd(6), done: formatBytes(start), size: formatBytes(total), rate: formatBytes(0) });
      return {
        update(position) {
          bar.update(position, { done: formatBytes(position), rate: formatBytes(Math.round(meter.add(position))) });
        },
        note(text) {
          multi.log(`${name}: ${text}\n`);
        },
        done(summary) {
          bar.update(Math.max(total, 1), { done: formatBytes(total) });
          multi.log(`${name}: ${summary}\n`);
        },
      };
    },
    log(text) {
      multi.log(`${text}\n`);
    },
    stop() {
      multi.stop();
    },
  };
}

function lineProgress(stream: NodeJS.WriteStream, intervalMs: number): ProgressReporter {
  const write = (s: string) => stream.write(`${s}\n`);
  return {
    file(name, total, start) {
      const began = Date.now();
      let last = 0;
      // A position is printed once: not the start again (the line above says it), not 100 % twice
      // (the last data callback and the end of the request both report it).
      let printed = start;
      write(`${name}: uploading ${total - start} of ${total} bytes (Storage holds ${start})`);
      return {
        update(position) {
          const now = Date.now();
          if (position === printed) return;
          if (now - last < intervalMs && position < total) return;
          last = now;
          printed = position;
          const secs = (now - began) / 1000;
          const rate = secs > 0 ? (position - start) / secs : 0;
          const pct = total > 0 ? ((100 * position) / total).toFixed(1) : '100.0';
          const eta = rate > 0 ? `${Math.ceil((total - position) / rate)}s` : '?';
          write(`${name}: ${position}/${total} bytes ${pct}% ${formatBytes(Math.round(rate))}/s eta ${eta}`);
        },
        note(text) {
          write(`${name}: ${text}`);
        },
        done(summary) {
          write(`${name}: ${summary}`);
        },
      };
    },
    log: write,
    stop() {},
  };
}
