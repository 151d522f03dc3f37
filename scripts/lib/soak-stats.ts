import { execFileSync } from 'node:child_process';

/** The control-server counters the soak reads (see container/README.md, GET /stats). */
export interface ControlStats {
  eventsQueued: number;
  eventsJournaled: number;
  remints: number;
  leftoverAgentsEnded: number;
  responses: Record<string, number>;
}

/** Sums the counters of several control-server incarnations. */
export function sumStats(all: readonly Partial<ControlStats>[]): ControlStats {
  const total: ControlStats = { eventsQueued: 0, eventsJournaled: 0, remints: 0, leftoverAgentsEnded: 0, responses: {} };
  for (const s of all) {
    total.eventsQueued += s.eventsQueued ?? 0;
    total.eventsJournaled += s.eventsJournaled ?? 0;
    total.remints += s.remints ?? 0;
    total.leftoverAgentsEnded += s.leftoverAgentsEnded ?? 0;
    for (const [k, v] of Object.entries(s.responses ?? {})) total.responses[k] = (total.responses[k] ?? 0) + v;
  }
  return total;
}

/** SIGSTOPs the process group of every child of `pid` (a control server's agents): they print nothing more. */
export function freezeAgentsOf(pid: number): number {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return 0; // no children
  }
  for (const child of children) {
    try {
      process.kill(-child, 'SIGSTOP');
    } catch {
      // gone already
    }
  }
  return children.length;
}

/**
 * A control server's counters once they stopped moving and everything it read is durable
 * in its journal (two reads 300 ms apart agree, and journaled = queued).
 */
export async function settledStats(url: string, secret: string, timeoutMs = 15_000): Promise<ControlStats> {
  const read = async () => (await (await fetch(`${url}/stats`, { headers: { authorization: `Bearer ${secret}` } })).json()) as ControlStats;
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await read();
    if (now.eventsQueued === last.eventsQueued && now.eventsJournaled === now.eventsQueued) return now;
    last = now;
  }
  throw new Error('the control server did not settle before the kill');
}
