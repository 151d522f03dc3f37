import { randomUUID } from 'node:crypto';
import { backoffDelayMs, BACKOFF_DEFAULTS, type BackoffOptions } from '../domain/backoff.ts';
import { REPORTS_PER_REQUEST, type DropCause, type DropReport, type ItemKind } from '../domain/drops.ts';
import type { Journal } from '../managers/journal.ts';
import type { ReportRecord } from '../managers/journal-records.ts';
import type { Stats } from './stats.ts';
import { Waiter } from './waiter.ts';
import { parseJson, unreachableDetail, type AgentAddress } from './worker-client.ts';

const TIMEOUT_MS = 15_000;

/** Where the reporter finds a town's container credential, and hears of a new one. */
export interface CredentialSource {
  credential(townId: string): string | null;
  onCredential(listener: (townId: string) => void): void;
}

interface Waiting {
  report: DropReport;
  /** Its latest journal record is committed: it may be sent. */
  durable: boolean;
  /** It went out at least once with this count: a new drop may not join it any more. */
  sealed: boolean;
  version: number;
}

/** One town at one Worker URL: its reports go in one request at a time. */
interface Destination {
  townId: string;
  apiUrl: string;
  waiting: Waiting[];
  running: boolean;
  attempt: number;
  /** The credential a 401 refused: wait for another. */
  refused: string | null;
  waiter: Waiter;
}

/**
 * Tells the Worker what was dropped: `POST {apiUrl}/api/towns/:townId/container/drops`
 * with the town's container credential, `{reports: [{id, agentId, cause, kind, count}]}`
 * (at most REPORTS_PER_REQUEST) → 200 `{accepted, duplicates}`; the Worker keeps reports
 * by id, so a retry is harmless. Each report is journaled (with the ids of the items its
 * drop removed) before it may be sent, and acked once accepted. Drops of the same agent,
 * cause and kind join the report still waiting (never one that went out). Retried with
 * capped backoff; with no credential for the town, or one a 401 refused, reports wait for
 * the next credential. Any other 4xx: the Worker will never take them; logged and let go.
 */
export class DropReporter {
  readonly #journal: Journal;
  readonly #stats: Stats;
  readonly #credentials: CredentialSource;
  readonly #backoff: BackoffOptions;
  readonly #destinations = new Map<string, Destination>();
  #halted = false;

  constructor(journal: Journal, stats: Stats, credentials: CredentialSource, backoff: BackoffOptions = BACKOFF_DEFAULTS) {
    this.#journal = journal;
    this.#stats = stats;
    this.#credentials = credentials;
    this.#backoff = backoff;
    credentials.onCredential((townId) => {
      for (const d of this.#destinations.values()) if (d.townId === townId) this.#retry(d);
    });
  }

  /** Reports not yet accepted. */
  get pending(): number {
    let n = 0;
    for (const d of this.#destinations.values()) n += d.waiting.length;
    return n;
  }

  /** Reports `count` items of `kind` dropped for `cause`; `ack` names those of them the journal holds. */
  add(agent: AgentAddress, cause: DropCause, kind: ItemKind, count: number, ack: readonly string[]): void {
    const d = this.#destination(agent.townId, agent.apiUrl);
    let w = d.waiting.find((x) => !x.sealed && x.report.agentId === agent.agentId && x.report.cause === cause && x.report.kind === kind);
    if (w) w.report.count += count;
    else {
      w = { report: { id: randomUUID(), agentId: agent.agentId, cause, kind, count }, durable: false, sealed: false, version: 0 };
      d.waiting.push(w);
      this.#stats.dropReports.queued++;
    }
    const version = ++w.version;
    w.durable = false;
    const entry = w;
    this.#journal.appendReport({ ...w.report, townId: d.townId, apiUrl: d.apiUrl, ack: [...ack] }, () => {
      if (entry.version !== version) return;
      entry.durable = true;
      this.#kick(d);
    });
  }

  /** Reports a previous server journaled and the Worker had not accepted. */
  restore(records: readonly ReportRecord[]): void {
    for (const r of records) {
      const d = this.#destination(r.townId, r.apiUrl);
      // it may have gone out before the crash: sealed, so its count never changes under its id
      d.waiting.push({ report: { id: r.id, agentId: r.agentId, cause: r.cause, kind: r.kind, count: r.count }, durable: true, sealed: true, version: 0 });
      this.#kick(d);
    }
  }

  /** Cuts backoff waits short (the server is shutting down). */
  retryNow(): void {
    for (const d of this.#destinations.values()) this.#retry(d);
  }

  /** Stops sending (what waits stays journaled). */
  halt(): void {
    this.#halted = true;
    for (const d of this.#destinations.values()) d.waiter.wake();
  }

  #destination(townId: string, apiUrl: string): Destination {
    const key = `${townId}\n${apiUrl}`;
    let d = this.#destinations.get(key);
    if (!d) {
      d = { townId, apiUrl, waiting: [], running: false, attempt: 0, refused: null, waiter: new Waiter() };
      this.#destinations.set(key, d);
    }
    return d;
  }

  #retry(d: Destination): void {
    if (!d.waiter.wake()) this.#kick(d);
  }

  #kick(d: Destination): void {
    if (d.running || this.#halted) return;
    d.running = true;
    // started after the current task: every report one commit made durable joins the first request
    queueMicrotask(() => {
      void this.#drain(d).finally(() => {
        d.running = false;
        if (d.waiting.length === 0) this.#destinations.delete(`${d.townId}\n${d.apiUrl}`);
        else if (d.waiting.some((w) => w.durable) && !this.#halted) this.#kick(d);
      });
    });
  }

  async #drain(d: Destination): Promise<void> {
    while (!this.#halted) {
      const batch = d.waiting.filter((w) => w.durable).slice(0, REPORTS_PER_REQUEST);
      if (batch.length === 0) return;
      const credential = this.#credentials.credential(d.townId);
      if (!credential || credential === d.refused) {
        await d.waiter.sleep(null);
        continue;
      }
      for (const w of batch) w.sealed = true;
      const { status, body, detail } = await post(d, credential, batch.map((w) => w.report));
      if (status >= 200 && status < 300) {
        const answer = body as { accepted?: unknown; duplicates?: unknown } | null;
        this.#stats.dropReports.accepted += typeof answer?.accepted === 'number' ? answer.accepted : batch.length;
        this.#stats.dropReports.duplicates += typeof answer?.duplicates === 'number' ? answer.duplicates : 0;
        this.#settle(d, batch);
        d.attempt = 0;
        continue;
      }
      if (status === 401) {
        // the Worker stored nothing: the reports may still grow, and wait for a newer credential
        for (const w of batch) w.sealed = false;
        d.refused = credential;
        continue;
      }
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        console.error(JSON.stringify({ msg: 'drop reports refused by the Worker; let go', townId: d.townId, status, reports: batch.length }));
        this.#stats.dropReports.refused += batch.length;
        this.#settle(d, batch);
        continue;
      }
      if (d.attempt === 3) console.warn(JSON.stringify({ msg: 'drop reports failing', townId: d.townId, apiUrl: d.apiUrl, status, detail: detail ?? null }));
      await d.waiter.sleep(backoffDelayMs(d.attempt++, Math.random(), this.#backoff));
    }
  }

  #settle(d: Destination, batch: Waiting[]): void {
    const done = new Set(batch);
    d.waiting = d.waiting.filter((w) => !done.has(w));
    this.#journal.ack(batch.map((w) => w.report.id));
  }
}

async function post(d: Destination, credential: string, reports: DropReport[]): Promise<{ status: number; body: unknown; detail?: string }> {
  try {
    const res = await fetch(`${d.apiUrl}/api/towns/${encodeURIComponent(d.townId)}/container/drops`, {
      method: 'POST',
      headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reports }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    return { status: res.status, body: parseJson(await res.text()) };
  } catch (err) {
    return { status: 0, body: null, detail: unreachableDetail(err) };
  }
}
