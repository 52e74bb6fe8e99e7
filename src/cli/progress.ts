// A one-line progress bar for the terminal (plain lines when output is not a TTY).

export class Progress {
  private start = Date.now();
  private lastPrint = 0;
  constructor(
    private total: number,
    private label: string,
  ) {}

  private lastDone = 0;

  /**
   * Redraws the bar at most once a second on a terminal; piped to a file, prints a line only every
   * ~10 % of the total or every 10 s (and at the end), so a log holds about ten lines per bar.
   */
  update(done: number, fields: Record<string, string>, force = false, tty = process.stdout.isTTY === true): void {
    const now = Date.now();
    const finished = done >= this.total;
    if (!force && !finished) {
      if (tty && now - this.lastPrint < 1000) return;
      if (!tty && done - this.lastDone < this.total / 10 && now - this.lastPrint < 10_000) return;
    }
    this.lastDone = done;
    this.lastPrint = now;
    const elapsed = (now - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const width = 24;
    const filled = Math.round((done / this.total) * width);
    const bar = '█'.repeat(filled) + '·'.repeat(width - filled);
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ');
    const line = `${this.label} ${bar} ${done}/${this.total}  ${extra}  ${fmtTime(elapsed)} elapsed, ETA ${fmtTime(eta)}`;
    if (tty) process.stdout.write(`\r${line}\x1b[K${done >= this.total ? '\n' : ''}`);
    else console.log(line);
  }
}

export function fmtTime(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.round(s); // round first: 1319.7 s is 22m00s, not 21m60s
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}
