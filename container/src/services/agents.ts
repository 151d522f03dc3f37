import { randomBytes, randomUUID } from 'node:crypto';
import { controlUrlOf, type ControlConfig } from '../config.ts';
import { fitEvent, parseStdoutLine, stderrEvent, type OutputLine } from '../domain/agent-lines.ts';
import type { BackoffOptions } from '../domain/backoff.ts';
import type { CredentialFiles } from '../managers/credential-files.ts';
import type { Journal, Replayed } from '../managers/journal.ts';
import { NoUidError, type AgentProcess, type ProcessManager } from '../managers/process-manager.ts';
import type { TokenFiles } from '../managers/token-file.ts';
import type { OfferResult, TokenStore } from '../managers/token-store.ts';
import { agentCommand, type RuntimeName } from '../runtimes/index.ts';
import { agentEnvironment } from './agent-env.ts';
import { listAgents, type AgentListing } from './agent-listing.ts';
import { Deliveries } from './deliveries.ts';
import { DropLedger } from './drop-ledger.ts';
import { DropReporter } from './drop-reporter.ts';
import { FailureStreak } from './failure-streak.ts';
import { HeartbeatScheduler } from './heartbeats.ts';
import type { Outbox } from './outbox.ts';
import { Reminter } from './reminter.ts';
import type { Stats } from './stats.ts';
import { WorkerClient, type AgentAddress } from './worker-client.ts';
import { classify } from './worker-replies.ts';

/** What an event this server writes itself stands for: no line of the agent's, never cut. */
const SERVER_LINE: OutputLine = { text: '', bytes: 0, truncated: false };

/** What `/agents/start` carries. */
export interface StartRequest {
  agentId: string;
  townId: string;
  rigId: string | null;
  role: string;
  token: string;
  apiUrl: string;
  /** What runs when there is no `command` (default builtin). */
  runtime?: RuntimeName;
  /** The bead a polecat works on. */
  beadId?: string | null;
  command?: string[];
  env?: Record<string, string>;
  containerCredential?: string;
}

/** How a start went. */
export type StartResult =
  | { status: 200 | 201; agentId: string; pid: number }
  | { status: 400; error: string }
  | { status: 503; code: 'shutting_down' | 'no_capacity'; error: string };

/** A running agent, or one that exited and is still delivering. */
export interface AgentRecord extends AgentAddress {
  rigId: string | null;
  role: string;
  status: 'running' | 'exited';
  pid: number;
  process: AgentProcess;
  nonce: string;
  outbox: Outbox;
  lastHeartbeatOkAt: number | null;
  heartbeats: FailureStreak;
}

/** Managers and state the service composes. */
export interface AgentServiceDeps {
  config: ControlConfig;
  tokens: TokenStore;
  files: TokenFiles;
  processes: ProcessManager;
  stats: Stats;
  journal: Journal;
  /** What the journal held at boot: recovered into outboxes and drop reports. */
  replayed: Replayed;
  credentials: CredentialFiles;
  /** Delivery retries (tests shorten them). */
  backoff?: BackoffOptions;
}

/**
 * Agent lifecycle: start, message, refresh, stop, exit, and what a previous server left.
 * Everything an agent registers (process, token, token file, nonce, heartbeat entry,
 * outbox) is released once it has ended and its outbox holds nothing more.
 */
export class AgentService {
  readonly #d: AgentServiceDeps;
  readonly #agents = new Map<string, AgentRecord>();
  readonly reminter: Reminter;
  readonly heartbeats: HeartbeatScheduler;
  readonly deliveries: Deliveries;
  readonly reporter: DropReporter;
  readonly drops: DropLedger;
  readonly #client: WorkerClient;
  #shuttingDown = false;

  constructor(deps: AgentServiceDeps) {
    this.#d = deps;
    this.reminter = new Reminter(deps.stats, (agentId, token) => this.#accept(agentId, token), deps.credentials);
    this.#client = new WorkerClient(deps.tokens, deps.stats, (agent) => this.reminter.remint(agent));
    this.reporter = new DropReporter(deps.journal, deps.stats, this.reminter, deps.backoff);
    this.drops = new DropLedger(deps.stats, this.reporter);
    this.deliveries = new Deliveries({
      client: this.#client, journal: deps.journal, drops: this.drops, stats: deps.stats, backoff: deps.backoff,
      onDrained: (agentId, outbox) => {
        if (this.deliveries.get(agentId) === outbox) this.#settle(agentId);
      },
      onAgentEnded: (agentId, outbox) => this.#agentEnded(agentId, outbox),
    });
    this.heartbeats = new HeartbeatScheduler(deps.config.heartbeatIntervalMs, (id) => this.#heartbeat(id));
    this.#recover(deps.replayed);
  }

  get size(): number {
    return this.#agents.size;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  get(agentId: string): AgentRecord | undefined {
    return this.#agents.get(agentId);
  }

  /** Starts an agent, or (already running) takes its token if newer. The credential is kept only when the start succeeds. */
  start(req: StartRequest): StartResult {
    const { tokens, files, processes, stats } = this.#d;
    if (this.#shuttingDown) return { status: 503, code: 'shutting_down', error: 'the control server is shutting down' };
    const valid = tokens.validate(req.agentId, req.townId, req.token);
    if (!valid.ok) return { status: 400, error: valid.reason };
    const existing = this.#agents.get(req.agentId);
    if (existing?.status === 'running') {
      if (existing.townId !== req.townId) return { status: 400, error: 'the agent runs for another town' };
      this.refresh(req.agentId, req.token); // an older token is ignored
      if (req.containerCredential) this.reminter.setCredential(req.townId, req.containerCredential);
      return { status: 200, agentId: req.agentId, pid: existing.pid };
    }
    if (tokens.townOf(req.agentId) !== req.townId) tokens.forget(req.agentId);
    tokens.register(req.agentId, req.townId);
    tokens.offer(req.agentId, req.token); // 409: the held token (a previous incarnation's) is newer and serves
    const address = { agentId: req.agentId, townId: req.townId, apiUrl: req.apiUrl };
    const outbox = this.deliveries.open(address);
    const nonce = randomBytes(24).toString('base64url');
    const record = { ...address, rigId: req.rigId, role: req.role, status: 'running', nonce, outbox, lastHeartbeatOkAt: null, heartbeats: new FailureStreak('heartbeats', address) } as AgentRecord;
    const event = (fields: Record<string, unknown>, line: OutputLine, cutType: 'output' | 'stderr') => {
      const fitted = fitEvent({ ...fields, id: randomUUID(), type: String(fields.type), ts: new Date().toISOString() }, line, cutType);
      // a closed outbox counts the event itself as dropped
      if (fitted.truncated && !outbox.closed) this.drops.record(address, 'truncated', 'event', 1);
      outbox.addEvent(fitted.event, fitted.json);
    };
    const hooks = {
      onStdoutLine: (line: OutputLine) => {
        const parsed = line.truncated ? null : parseStdoutLine(line.text);
        event(parsed?.event ?? { type: 'output', text: line.text }, line, 'output');
        if (parsed?.review) outbox.addReview(parsed.review);
        if (parsed?.reviewError) event(parsed.reviewError, SERVER_LINE, 'output');
      },
      onStderrLine: (line: OutputLine) => event(stderrEvent(line.text), line, 'stderr'),
      onExit: (code: number | null, signal: NodeJS.Signals | null) => this.#exited(record, code, signal),
    };
    try {
      const command = req.command?.length ? req.command : agentCommand(req.runtime ?? 'builtin', process.execPath);
      record.process = processes.start(req.agentId, command, (identity) => {
        files.write(req.agentId, tokens.token(req.agentId)!, identity.owner);
        return agentEnvironment(process.env, {
          ...address, rigId: req.rigId, role: req.role, token: req.token, tokenFile: files.pathOf(req.agentId),
          controlUrl: controlUrlOf(this.#d.config), nonce, home: identity.owner ? identity.home : null, agentHome: identity.home, tmpDir: identity.tmp, runtimeDir: identity.run, beadId: req.beadId ?? null, requested: req.env,
        });
      }, hooks);
    } catch (err) {
      // nothing of this incarnation stays; what the outbox held before it is still delivered
      files.disown(req.agentId);
      this.#settle(req.agentId);
      if (err instanceof NoUidError) return { status: 503, code: 'no_capacity', error: err.message };
      return { status: 400, error: `cannot start the command: ${(err as NodeJS.ErrnoException).code ?? 'invalid arguments'}` };
    }
    record.pid = record.process.pid;
    // a burst the Worker cannot take yet is held back in the agent's pipes, not dropped
    outbox.setPressureListener((full) => (full ? record.process.pauseOutput() : record.process.resumeOutput()));
    this.#agents.set(req.agentId, record);
    this.heartbeats.add(req.agentId);
    stats.agentsStarted++;
    if (req.containerCredential) this.reminter.setCredential(req.townId, req.containerCredential);
    return { status: 201, agentId: req.agentId, pid: record.pid };
  }

  /** Offers a token to an agent this server runs (or that exited and is still delivering); an accepted one is written to its file. */
  refresh(agentId: string, token: unknown): OfferResult {
    if (!this.#agents.has(agentId)) return { status: 404 };
    return this.#offer(agentId, token);
  }

  message(agentId: string, text: string): boolean {
    const record = this.#agents.get(agentId);
    if (!record || record.status !== 'running') return false;
    return record.process.send(JSON.stringify({ type: 'message', text }));
  }

  /** Stops the agent (the TownDO has revoked it): its undelivered items are dropped (`agent_ended`), everything is forgotten. */
  async stop(agentId: string): Promise<boolean> {
    const record = this.#agents.get(agentId);
    const outbox = this.deliveries.get(agentId);
    if (!record && !outbox) return false;
    outbox?.end('agent_ended');
    this.#release(agentId);
    await record?.process.kill();
    return true;
  }

  /**
   * The control server is going away (not the agents' work): refuses new starts, ends the
   * processes without completion reports (the TownDO starts them again), delivers what it
   * can within `deliverMs`, then stops sending. Nothing is dropped: the journal keeps the
   * rest for the next server.
   */
  async shutdown(deliverMs: number): Promise<void> {
    this.#shuttingDown = true;
    this.heartbeats.stop();
    await Promise.all([...this.#agents.values()].map((r) => r.process.kill()));
    for (const outbox of this.deliveries.all()) outbox.retryNow();
    this.reporter.retryNow();
    const deadline = Date.now() + deliverMs;
    const busy = () => this.reporter.pending > 0 || [...this.deliveries.all()].some((o) => o.pending > 0);
    while (Date.now() < deadline && busy()) await new Promise((r) => setTimeout(r, 50));
    for (const outbox of this.deliveries.all()) outbox.halt();
    this.reporter.halt();
    this.drops.flushLog();
  }

  /** Agents this server holds (optionally of one town), never token values. */
  list(townId?: string): AgentListing[] {
    return listAgents(this.#agents, this.deliveries, this.#d.tokens, townId);
  }

  /** At boot: an outbox (and the token from its file) for each agent with journaled items, the drop reports, and a drop (`journal_torn`) for each item only a torn record held. */
  #recover(replayed: Replayed): void {
    const { tokens, files } = this.#d;
    this.reporter.restore(replayed.reports);
    for (const torn of replayed.tornItems) this.drops.record({ agentId: torn.agentId, townId: torn.townId, apiUrl: torn.apiUrl }, 'journal_torn', torn.kind, 1);
    const addresses = this.deliveries.restore(replayed.items);
    files.prune(new Set(addresses.map((a) => a.agentId)));
    for (const address of addresses) {
      tokens.register(address.agentId, address.townId);
      const token = files.read(address.agentId);
      if (token) tokens.offer(address.agentId, token); // none, or refused: the first delivery heals through a re-mint
      this.deliveries.get(address.agentId)!.retryNow();
    }
    if (addresses.length > 0 || replayed.reports.length > 0) {
      console.log(JSON.stringify({ msg: 'recovering undelivered items', agents: addresses.length, items: replayed.items.length, dropReports: replayed.reports.length }));
    }
  }

  #offer(agentId: string, token: unknown): OfferResult {
    const { tokens, files, stats } = this.#d;
    const result = tokens.offer(agentId, token);
    if (result.status === 200) {
      stats.tokensAccepted++;
      if (result.changed) {
        const record = this.#agents.get(agentId);
        files.write(agentId, token as string, record?.status === 'running' ? record.process.owner : null);
        this.deliveries.get(agentId)?.retryNow(); // a delivery waiting on a revoked token goes now
      }
    } else if (result.status === 409) {
      stats.tokensRejected409++;
    }
    return result;
  }

  /** A re-minted token (for a running, exited or recovering agent). */
  #accept(agentId: string, token: string): { expiresAt: string } | null {
    if (this.#d.tokens.townOf(agentId) === null) return null;
    const offered = this.#offer(agentId, token);
    // 409: the store already holds a newer token, which serves as well
    const claims = offered.status === 200 ? offered.claims : offered.status === 409 ? this.#d.tokens.claims(agentId) : null;
    return claims ? { expiresAt: new Date(claims.exp * 1000).toISOString() } : null;
  }

  /** The Worker said the agent ended for good: its process group goes too. */
  #agentEnded(agentId: string, outbox: Outbox): void {
    if (this.deliveries.get(agentId) !== outbox) return;
    const record = this.#agents.get(agentId);
    if (record?.status === 'running') void record.process.kill();
  }

  /** Exit: the token file becomes this server's; the completion report goes last. */
  #exited(record: AgentRecord, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#agents.get(record.agentId) !== record) return;
    record.status = 'exited';
    this.heartbeats.remove(record.agentId);
    this.#d.files.disown(record.agentId);
    if (this.#shuttingDown) return;
    record.outbox.setCompletion({ status: code === 0 ? 'completed' : 'failed', summary: code === 0 ? 'exited 0' : `exited ${code ?? signal}` });
    this.#settle(record.agentId);
  }

  /** Releases an agent that is not running and has nothing left to deliver. */
  #settle(agentId: string): void {
    if (this.#agents.get(agentId)?.status === 'running') return;
    const outbox = this.deliveries.get(agentId);
    if (outbox && outbox.pending > 0) return;
    this.#release(agentId);
  }

  #release(agentId: string): void {
    const outbox = this.deliveries.get(agentId);
    if (outbox) this.deliveries.release(agentId, outbox);
    this.#agents.delete(agentId);
    this.heartbeats.remove(agentId);
    this.#d.tokens.forget(agentId);
    this.#d.files.remove(agentId);
  }

  async #heartbeat(agentId: string): Promise<boolean> {
    const record = this.#agents.get(agentId);
    if (!record || record.status !== 'running') return false;
    const reply = await this.#client.post(record, '/heartbeat', '{"status":"working"}', 'heartbeat');
    const ok = reply.status >= 200 && reply.status < 300;
    if (ok) {
      record.lastHeartbeatOkAt = Date.now();
      record.heartbeats.succeeded();
    } else {
      record.heartbeats.failed(reply, Date.now());
      // the Worker says the agent ended for good (its stop may never have arrived): an agent
      // that only heartbeats would otherwise run on until the next reconciliation
      if (classify(reply) === 'ended' && this.#agents.get(agentId) === record && record.status === 'running') void record.process.kill();
    }
    return ok;
  }
}
