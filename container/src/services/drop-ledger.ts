import type { DropCause, ItemKind } from '../domain/drops.ts';
import type { DropReporter } from './drop-reporter.ts';
import type { Stats } from './stats.ts';
import type { AgentAddress } from './worker-client.ts';

/** Drops of one agent, cause and kind within this window are logged as one line. */
const LOG_WINDOW_MS = 1_000;

interface LogEntry {
  agentId: string;
  cause: DropCause;
  kind: ItemKind;
  count: number;
}

/**
 * Every drop goes through here: counted in `/stats` (by kind and cause), logged (agent id,
 * cause, kind, count; never content) and reported to the Worker. The first drop of an
 * agent, cause and kind is logged at once; more within LOG_WINDOW_MS are summed into one
 * line at the end of the window (an overflow drops one event per event read).
 */
export class DropLedger {
  readonly #stats: Stats;
  readonly #reporter: DropReporter;
  readonly #held = new Map<string, LogEntry>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(stats: Stats, reporter: DropReporter) {
    this.#stats = stats;
    this.#reporter = reporter;
  }

  /** `count` items dropped; `ack` are the ids of those the journal holds (none for items never journaled). */
  record(agent: AgentAddress, cause: DropCause, kind: ItemKind, count: number, ack: readonly string[] = []): void {
    if (count <= 0) return;
    this.#stats.countDrop(kind, cause, count);
    this.#reporter.add(agent, cause, kind, count, ack);
    const key = `${agent.agentId}\n${cause}\n${kind}`;
    const held = this.#held.get(key);
    if (held) {
      held.count += count;
      return;
    }
    log({ agentId: agent.agentId, cause, kind, count });
    this.#held.set(key, { agentId: agent.agentId, cause, kind, count: 0 });
    this.#timer ??= setTimeout(() => this.flushLog(), LOG_WINDOW_MS);
    this.#timer.unref?.();
  }

  /** Logs what the window summed so far. */
  flushLog(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const entry of this.#held.values()) if (entry.count > 0) log(entry);
    this.#held.clear();
  }
}

function log(entry: LogEntry): void {
  console.warn(JSON.stringify({ msg: 'items dropped', ...entry }));
}
