/** Human output: tables, durations, colour and a progress spinner (stderr, TTY only). */

/** How a table row stands out. */
export type Emphasis = 'warn' | 'bad' | undefined;

const ANSI = /\x1b\[[0-9;]*m/g;
const COLORS = { warn: '\x1b[33m', bad: '\x1b[31m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/** Colour on stdout: a TTY, and neither NO_COLOR nor TERM=dumb. */
export function useColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

/** Columns padded to their widest cell; emphasised rows coloured (the NOTE column says why without colour). */
export function table(headers: string[], rows: string[][], options: { color?: boolean; emphasis?: Emphasis[] } = {}): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visibleLength(c))))
      .join('  ')
      .trimEnd();
  const head = options.color ? `${COLORS.bold}${line(headers)}${COLORS.reset}` : line(headers);
  const body = rows.map((r, i) => {
    const emphasis = options.emphasis?.[i];
    const text = line(r);
    return options.color && emphasis ? `${COLORS[emphasis]}${text}${COLORS.reset}` : text;
  });
  return [head, ...body].join('\n');
}

function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** `1d 2h`, `2h 5m`, `12m 3s`, `45s`, `0.4s`: the largest unit and the next one when not zero. */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 10_000 && abs % 1000 !== 0) return `${(abs / 1000).toFixed(1)}s`;
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  const rest = Math.round(abs / 1000) * 1000;
  const first = units.findIndex(([, size]) => rest >= size);
  if (first < 0) return '0s';
  const [name, size] = units[first]!;
  const head = `${Math.floor(rest / size)}${name}`;
  const next = units[first + 1];
  const tail = next ? Math.floor((rest % size) / next[1]) : 0;
  return tail > 0 ? `${head} ${tail}${next![0]}` : head;
}

/** `in 5m 2s` or `3s ago` relative to `now`; `-` when absent. */
export function relative(iso: string | null | undefined, now: number): string {
  if (!iso) return '-';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = at - now;
  return delta >= 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Runs `work` with a spinner on stderr that appears only after a second and only when
 * stderr is a TTY (pipes and files get nothing).
 */
export async function withProgress<T>(label: string, work: Promise<T>, stream: NodeJS.WriteStream = process.stderr): Promise<T> {
  if (!stream.isTTY) return work;
  let frame = 0;
  let shown = false;
  let spin: ReturnType<typeof setInterval> | undefined;
  const start = setTimeout(() => {
    shown = true;
    spin = setInterval(() => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label}`), 100);
  }, 1000);
  try {
    return await work;
  } finally {
    clearTimeout(start);
    clearInterval(spin);
    if (shown) stream.write('\r\x1b[K');
  }
}

/** A status line on stderr (TTY only) that the next one replaces; `clear()` removes it. */
export function statusLine(stream: NodeJS.WriteStream = process.stderr) {
  return {
    show(text: string) {
      if (stream.isTTY) stream.write(`\r\x1b[K${text}`);
    },
    clear() {
      if (stream.isTTY) stream.write('\r\x1b[K');
    },
  };
}
