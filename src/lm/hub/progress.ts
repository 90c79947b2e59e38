// A download progress bar on a stream (stderr): bytes, percent, rate and ETA on one line
// redrawn with \r on a terminal; on a pipe or log file, a plain line every few seconds.

/** Where a snapshot download stands; passed to `onProgress` on every change. */
export interface DownloadState {
  repoId: string;
  /** Files selected for download (cached ones included). */
  files: number;
  filesDone: number;
  /** Bytes in place: cached, resumed from a partial file, or downloaded now. */
  bytes: number;
  /** Sum of the selected files' sizes (as far as known). */
  totalBytes: number;
  /** Bytes received over the network by this call. */
  transferred: number;
  /** Files being downloaded now. */
  active: readonly string[];
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (Math.abs(n) >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The stream's part of a progress bar: write(), and isTTY/columns when it is a terminal. */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressBarOptions {
  /** Redraw at most this often on a terminal (default 100 ms). */
  ttyIntervalMs?: number;
  /** Print a line this often when not a terminal (default 5000 ms). */
  plainIntervalMs?: number;
}

export class ProgressBar {
  private readonly tty: boolean;
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;
  /** Recent (time, transferred) samples for the rate. */
  private samples: [number, number][] = [];
  private state: DownloadState | null = null;

  constructor(private readonly stream: ProgressStream, private readonly o: ProgressBarOptions = {}) {
    this.tty = stream.isTTY === true;
  }

  update(s: DownloadState): void {
    this.state = s;
    const now = Date.now();
    this.samples.push([now, s.transferred]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
    if (!this.tty && this.lastDraw === 0) { // a log gets what is coming first, then a line every few seconds
      this.lastDraw = now;
      this.stream.write(`${s.repoId}: fetching ${s.files} file${s.files === 1 ? '' : 's'}, ${formatBytes(s.totalBytes)}\n`);
      return;
    }
    const every = this.tty ? this.o.ttyIntervalMs ?? 100 : this.o.plainIntervalMs ?? 5000;
    if (now - this.lastDraw < every) return;
    this.lastDraw = now;
    if (this.tty) { this.stream.write(`\r${this.fit(this.line(s))}\x1b[K`); this.drawn = true; }
    else this.stream.write(this.line(s) + '\n');
  }

  /** A message on its own line (the bar is redrawn below it). */
  log(message: string): void {
    this.clear();
    this.stream.write(message + '\n');
    if (this.state && this.tty) { this.stream.write(this.fit(this.line(this.state)) + '\x1b[K'); this.drawn = true; }
  }

  /** Replaces the bar with a summary line. */
  finish(s: DownloadState): void {
    this.clear();
    const secs = (Date.now() - this.started) / 1000;
    const how = s.transferred > 0
      ? `${formatBytes(s.transferred)} downloaded in ${secs.toFixed(1)} s, ${formatBytes(s.transferred / Math.max(secs, 1e-3))}/s`
      : 'all already here';
    this.stream.write(`${s.repoId}: ${s.files} file${s.files === 1 ? '' : 's'}, ${formatBytes(s.totalBytes)} (${how})\n`);
  }

  private clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  private rate(): number {
    const [t0, b0] = this.samples[0] ?? [0, 0];
    const [t1, b1] = this.samples[this.samples.length - 1] ?? [0, 0];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }

  private line(s: DownloadState): string {
    const rate = this.rate();
    const pct = s.totalBytes > 0 ? ` ${Math.floor((100 * s.bytes) / s.totalBytes)}%` : '';
    const eta = rate > 0 && s.totalBytes > s.bytes ? ` ETA ${formatDuration((s.totalBytes - s.bytes) / rate)}` : '';
    const name = s.active.length ? `  ${s.active[0]}${s.active.length > 1 ? ` +${s.active.length - 1}` : ''}` : '';
    const speed = rate > 0 ? `  ${formatBytes(rate)}/s` : '';
    return `Fetching ${s.files} files [${s.filesDone}/${s.files}] ${formatBytes(s.bytes)} / ${formatBytes(s.totalBytes)}${pct}${speed}${eta}${name}`;
  }

  private fit(line: string): string {
    const cols = this.stream.columns ?? 0;
    return cols > 10 && line.length >= cols ? line.slice(0, cols - 1) : line;
  }
}
