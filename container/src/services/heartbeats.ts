/** One heartbeat target: an agent and when it is next due. */
export interface HeartbeatTarget {
  agentId: string;
  nextAt: number;
  inFlight: boolean;
}

/** Most heartbeat requests in flight at once. */
const MAX_CONCURRENT = 32;
const TICK_MS = 500;

/**
 * ONE scheduler for every agent's heartbeat: a single timer, each agent due on its own
 * period; `send` makes the request with that agent's own token at send time. At most
 * MAX_CONCURRENT requests are in flight, served round-robin, and an agent never has two.
 */
export class HeartbeatScheduler {
  readonly #targets = new Map<string, HeartbeatTarget>();
  readonly #intervalMs: number;
  readonly #send: (agentId: string) => Promise<boolean>;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | null = null;
  #inFlight = 0;

  constructor(intervalMs: number, send: (agentId: string) => Promise<boolean>, now: () => number = Date.now) {
    this.#intervalMs = intervalMs;
    this.#send = send;
    this.#now = now;
  }

  get size(): number {
    return this.#targets.size;
  }

  /** Schedules an agent; its first heartbeat is soon after start. */
  add(agentId: string): void {
    this.#targets.set(agentId, { agentId, nextAt: this.#now() + Math.min(1_000, this.#intervalMs), inFlight: false });
    this.#timer ??= setInterval(() => this.#tick(), Math.min(TICK_MS, this.#intervalMs));
    this.#timer.unref?.();
  }

  remove(agentId: string): void {
    this.#targets.delete(agentId);
    if (this.#targets.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  stop(): void {
    for (const id of [...this.#targets.keys()]) this.remove(id);
  }

  #tick(): void {
    const now = this.#now();
    const due: HeartbeatTarget[] = [];
    for (const target of this.#targets.values()) {
      if (due.length >= MAX_CONCURRENT - this.#inFlight) break;
      if (!target.inFlight && target.nextAt <= now) due.push(target);
    }
    for (const target of due) {
      // to the back of the line: when the bound is saturated, agents are served round-robin
      this.#targets.delete(target.agentId);
      this.#targets.set(target.agentId, target);
      target.inFlight = true;
      target.nextAt = now + this.#intervalMs;
      this.#inFlight++;
      void this.#send(target.agentId)
        .catch(() => false)
        .finally(() => {
          target.inFlight = false;
          this.#inFlight--;
        });
    }
  }
}
