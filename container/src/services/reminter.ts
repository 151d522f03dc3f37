import type { Stats } from './stats.ts';
import type { AgentAddress } from './worker-client.ts';

/**
 * The 401 fallback: asks the Worker for a fresh token for one agent, presenting the
 * credential the TownDO handed this container (kept in memory only, never logged).
 * Concurrent requests for one agent share one re-mint.
 */
export class Reminter {
  readonly #credentials = new Map<string, string>();
  readonly #inFlight = new Map<string, Promise<boolean>>();
  readonly #stats: Stats;
  readonly #accept: (agentId: string, token: string) => boolean;

  /** `accept` stores a re-minted token (and writes its file); false when refused. */
  constructor(stats: Stats, accept: (agentId: string, token: string) => boolean) {
    this.#stats = stats;
    this.#accept = accept;
  }

  /** The latest credential of a town (one entry per town, replaced on rotation). */
  setCredential(townId: string, credential: string): void {
    this.#credentials.set(townId, credential);
  }

  hasCredential(townId: string): boolean {
    return this.#credentials.has(townId);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  remint(agent: AgentAddress): Promise<boolean> {
    const running = this.#inFlight.get(agent.agentId);
    if (running) return running;
    const attempt = this.#remint(agent).finally(() => this.#inFlight.delete(agent.agentId));
    this.#inFlight.set(agent.agentId, attempt);
    return attempt;
  }

  async #remint(agent: AgentAddress): Promise<boolean> {
    const credential = this.#credentials.get(agent.townId);
    if (!credential) {
      this.#stats.remintFailures++;
      return false;
    }
    try {
      const res = await fetch(`${agent.apiUrl}/api/towns/${encodeURIComponent(agent.townId)}/agents/${encodeURIComponent(agent.agentId)}/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json().catch(() => null)) as { token?: string } | null;
      if (!res.ok || typeof body?.token !== 'string') {
        this.#stats.remintFailures++;
        console.warn(JSON.stringify({ msg: 're-mint refused', agentId: agent.agentId, status: res.status }));
        return false;
      }
      this.#stats.remints++;
      this.#accept(agent.agentId, body.token);
      return true;
    } catch {
      this.#stats.remintFailures++;
      return false;
    }
  }
}
