// A one-line progress bar for the terminal (plain lines when output is not a TTY).

export class Progress {
  private start = Date.now();
  private lastPrint = 0;
  constructor(private total: number, private label: string) {}

  update(done: number, fields: Record<string, string>, force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPrint < 1000 && done < this.total) return;
    this.lastPrint = now;
    const elapsed = (now - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const width = 24;
    const filled = Math.round((done / this.total) * width);
    const bar = '█'.repeat(filled) + '·'.repeat(width - filled);
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${v}`).join('  ');
    const line = `${this.label} ${bar} ${done}/${this.total}  ${extra}  ${fmtTime(elapsed)} elapsed, ETA ${fmtTime(eta)}`;
    if (process.stdout.isTTY) process.stdout.write(`\r${line}\x1b[K${done >= this.total ? '\n' : ''}`);
    else console.log(line);
  }
}

export function fmtTime(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.round(s); // round first: 1319.7 s is 22m00s, not 21m60s
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}
