import type { WorkerReply } from './worker-client.ts';

/** Consecutive failures before a streak is logged. */
export const WARN_AFTER_FAILURES = 3;

/** The last failed call of a streak, as `/agents` shows it. Never a token. */
export interface LastFailure {
  at: string;
  status: number;
  code: string | null;
  detail: string | null;
}

/**
 * Consecutive failures of one kind of call for one agent (heartbeats, deliveries). It logs
 * one warning when a streak reaches WARN_AFTER_FAILURES and one line when it ends, so a
 * Worker that cannot be reached shows in the control server's log without a line per try.
 */
export class FailureStreak {
  readonly #what: string;
  readonly #agentId: string;
  readonly #apiUrl: string;
  #failures = 0;
  #last: LastFailure | null = null;

  constructor(what: string, agent: { agentId: string; apiUrl: string }) {
    this.#what = what;
    this.#agentId = agent.agentId;
    this.#apiUrl = agent.apiUrl;
  }

  get failures(): number {
    return this.#failures;
  }

  get last(): LastFailure | null {
    return this.#last;
  }

  succeeded(): void {
    if (this.#failures >= WARN_AFTER_FAILURES) {
      console.log(JSON.stringify({ msg: `${this.#what} recovered`, agentId: this.#agentId, after: this.#failures }));
    }
    this.#failures = 0;
  }

  failed(reply: WorkerReply, now: number): void {
    this.#failures++;
    this.#last = { at: new Date(now).toISOString(), status: reply.status, code: reply.code ?? null, detail: reply.detail ?? null };
    if (this.#failures === WARN_AFTER_FAILURES) {
      console.warn(JSON.stringify({ msg: `${this.#what} failing`, agentId: this.#agentId, apiUrl: this.#apiUrl, failures: this.#failures, ...this.#last }));
    }
  }
}
