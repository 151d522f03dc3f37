import type { CredentialFiles } from '../managers/credential-files.ts';
import type { Stats } from './stats.ts';
import type { AgentAddress } from './worker-client.ts';

const TIMEOUT_MS = 15_000;

/** How a re-mint went: `status` is the Worker's (0: unreachable or no credential). */
export type RemintResult = { ok: true; expiresAt: string } | { ok: false; status: number };

/** Stores a re-minted token; returns its expiry, or null when the store refused it. */
export type AcceptToken = (agentId: string, token: string) => { expiresAt: string } | null;

/**
 * The towns' container credentials, and the 401 fallback they serve: asks the Worker for
 * a fresh token for one agent, presenting the credential the TownDO handed this container
 * for that town (never logged). Concurrent requests for one agent share one re-mint.
 * Credentials are kept in memory, and in root-only files where agents are isolated, so a
 * restarted server can still heal the agents whose items it recovers.
 */
export class Reminter {
  readonly #credentials: Map<string, string>;
  readonly #inFlight = new Map<string, Promise<RemintResult>>();
  readonly #stats: Stats;
  readonly #accept: AcceptToken;
  readonly #files: CredentialFiles;
  readonly #listeners: Array<(townId: string) => void> = [];

  constructor(stats: Stats, accept: AcceptToken, files: CredentialFiles) {
    this.#stats = stats;
    this.#accept = accept;
    this.#files = files;
    this.#credentials = files.readAll();
  }

  /** The latest credential of a town (one entry per town, replaced on rotation). */
  setCredential(townId: string, credential: string): void {
    if (this.#credentials.get(townId) === credential) return;
    this.#credentials.set(townId, credential);
    try {
      this.#files.write(townId, credential);
    } catch (err) {
      console.warn(JSON.stringify({ msg: 'container credential not kept on disk', townId, code: (err as NodeJS.ErrnoException).code }));
    }
    for (const listener of this.#listeners) listener(townId);
  }

  credential(townId: string): string | null {
    return this.#credentials.get(townId) ?? null;
  }

  hasCredential(townId: string): boolean {
    return this.#credentials.has(townId);
  }

  /** Calls `listener` whenever a town's credential changes. */
  onCredential(listener: (townId: string) => void): void {
    this.#listeners.push(listener);
  }

  /** Towns with a credential held (one entry per town, not per agent). */
  get credentials(): number {
    return this.#credentials.size;
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  remint(agent: AgentAddress): Promise<RemintResult> {
    const running = this.#inFlight.get(agent.agentId);
    if (running) return running;
    const attempt = this.#remint(agent).finally(() => this.#inFlight.delete(agent.agentId));
    this.#inFlight.set(agent.agentId, attempt);
    return attempt;
  }

  async #remint(agent: AgentAddress): Promise<RemintResult> {
    const credential = this.#credentials.get(agent.townId);
    if (!credential) {
      this.#stats.remintFailures++;
      return { ok: false, status: 0 };
    }
    let status = 0;
    try {
      const res = await fetch(`${agent.apiUrl}/api/towns/${encodeURIComponent(agent.townId)}/agents/${encodeURIComponent(agent.agentId)}/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
        body: '{}',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      status = res.status;
      const body = (await res.json().catch(() => null)) as { token?: unknown } | null;
      if (res.ok && typeof body?.token === 'string') {
        const stored = this.#accept(agent.agentId, body.token);
        if (stored) {
          this.#stats.remints++;
          return { ok: true, expiresAt: stored.expiresAt };
        }
      }
    } catch {
      status = 0;
    }
    this.#stats.remintFailures++;
    console.warn(JSON.stringify({ msg: 're-mint failed', agentId: agent.agentId, status }));
    return { ok: false, status };
  }
}
