import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ControlConfig } from '../config.ts';
import { withoutWorkerSecrets } from '../domain/worker-secrets.ts';
import type { AgentProcess, ProcessManager } from '../managers/process-manager.ts';
import type { TokenFiles } from '../managers/token-file.ts';
import type { OfferResult, TokenStore } from '../managers/token-store.ts';
import { FailureStreak } from './failure-streak.ts';
import { HeartbeatScheduler } from './heartbeats.ts';
import { Outbox } from './outbox.ts';
import { Reminter } from './reminter.ts';
import type { Stats } from './stats.ts';
import { WorkerClient, type AgentAddress } from './worker-client.ts';

/** The built-in agent, run when a start request names no command. */
export const BUILTIN_AGENT = fileURLToPath(new URL('../agent/builtin-agent.ts', import.meta.url));

/** What `/agents/start` carries. */
export interface StartRequest {
  agentId: string;
  townId: string;
  rigId: string | null;
  role: string;
  token: string;
  apiUrl: string;
  command?: string[];
  env?: Record<string, string>;
  containerCredential?: string;
}

interface AgentRecord extends AgentAddress {
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

/** Managers the service composes. */
export interface AgentServiceDeps {
  config: ControlConfig;
  tokens: TokenStore;
  files: TokenFiles;
  processes: ProcessManager;
  stats: Stats;
}

/**
 * Agent lifecycle: start, message, refresh, stop, exit. Everything an agent registers
 * (process, token, token file, nonce, heartbeat entry, outbox) is released when it ends.
 */
export class AgentService {
  readonly #deps: AgentServiceDeps;
  readonly #agents = new Map<string, AgentRecord>();
  readonly reminter: Reminter;
  readonly #client: WorkerClient;
  readonly heartbeats: HeartbeatScheduler;
  #shuttingDown = false;

  constructor(deps: AgentServiceDeps) {
    this.#deps = deps;
    this.reminter = new Reminter(deps.stats, (agentId, token) => {
      const offered = this.refresh(agentId, token);
      // 409: the store already holds a newer token, which serves as well
      const claims = offered.status === 200 ? offered.claims : offered.status === 409 ? deps.tokens.claims(agentId) : null;
      return claims ? { expiresAt: new Date(claims.exp * 1000).toISOString() } : null;
    });
    this.#client = new WorkerClient(deps.tokens, deps.stats, (agent) => this.reminter.remint(agent));
    this.heartbeats = new HeartbeatScheduler(deps.config.heartbeatIntervalMs, (id) => this.#heartbeat(id), () => this.now());
  }

  /** This process's clock (skewable for fault tests; token decisions never depend on it). */
  now(): number {
    return Date.now() + this.#deps.config.clockSkewMs;
  }

  get size(): number {
    return this.#agents.size;
  }

  get(agentId: string): AgentRecord | undefined {
    return this.#agents.get(agentId);
  }

  /** Starts an agent, or (already running) takes its token if newer. */
  start(req: StartRequest): { status: 200 | 201 | 400; agentId: string; pid?: number; error?: string } {
    const { tokens, files, processes, stats } = this.#deps;
    if (req.containerCredential) this.reminter.setCredential(req.townId, req.containerCredential);
    const existing = this.#agents.get(req.agentId);
    if (existing?.status === 'running') {
      const offered = this.refresh(req.agentId, req.token);
      if (offered.status === 400) return { status: 400, agentId: req.agentId, error: offered.reason };
      return { status: 200, agentId: req.agentId, pid: existing.pid };
    }
    if (existing) {
      // an exited incarnation still delivering: its completion report must not land after this start
      existing.outbox.close('stopped');
      this.#forget(existing);
    }
    tokens.register(req.agentId, req.townId);
    const offered = tokens.offer(req.agentId, req.token);
    if (offered.status !== 200) {
      tokens.forget(req.agentId);
      return { status: 400, agentId: req.agentId, error: offered.status === 400 ? offered.reason : 'token refused' };
    }
    files.write(req.agentId, req.token);
    const nonce = randomBytes(24).toString('base64url');
    // `req.env` is the TownDO's deliberate choice; the control secret is this server's alone
    const env: NodeJS.ProcessEnv = { ...withoutWorkerSecrets(process.env), ...req.env };
    delete env.CONTAINER_CONTROL_SECRET;
    Object.assign(env, {
      GASTOWN_AGENT_ID: req.agentId,
      GASTOWN_TOWN_ID: req.townId,
      GASTOWN_RIG_ID: req.rigId ?? '',
      GASTOWN_ROLE: req.role,
      GASTOWN_API_URL: req.apiUrl,
      GASTOWN_TOKEN_FILE: files.pathOf(req.agentId),
      GASTOWN_SESSION_TOKEN: req.token,
      GASTOWN_CONTROL_URL: `http://127.0.0.1:${this.#deps.config.port}`,
      GASTOWN_AGENT_NONCE: nonce,
    });
    const address = { agentId: req.agentId, townId: req.townId, apiUrl: req.apiUrl };
    const outbox = new Outbox(address, this.#client, stats);
    const command = req.command?.length ? req.command : [process.execPath, BUILTIN_AGENT];
    const record = { ...address, rigId: req.rigId, role: req.role, status: 'running', nonce, outbox, lastHeartbeatOkAt: null, heartbeats: new FailureStreak('heartbeats', address) } as AgentRecord;
    const event = (fields: Record<string, unknown>) => outbox.addEvent({ ...fields, id: randomUUID(), type: String(fields.type ?? 'output'), ts: new Date(this.now()).toISOString() });
    const hooks = {
      onStdoutLine: (line: string) => {
        const parsed = parseObject(line);
        event(parsed ?? { type: 'output', text: line });
        if (parsed?.type === 'review-complete' && typeof parsed.beadId === 'string') {
          outbox.addCallback('reviewComplete', '/review-complete', { beadId: parsed.beadId, outcome: parsed.outcome === 'rejected' ? 'rejected' : 'merged' });
        }
      },
      onStderrLine: (line: string) => event({ type: 'stderr', text: line.slice(0, 4_000) }),
      onExit: (code: number | null, signal: NodeJS.Signals | null) => this.#exited(record, code, signal),
    };
    try {
      record.process = processes.start(req.agentId, command, env, hooks);
    } catch (err) {
      // spawn throws synchronously on arguments it cannot pass (e.g. a NUL byte): nothing stays registered
      outbox.close('stopped');
      this.#forget(record);
      return { status: 400, agentId: req.agentId, error: `cannot start the command: ${(err as NodeJS.ErrnoException).code ?? 'invalid arguments'}` };
    }
    record.pid = record.process.pid;
    this.#agents.set(req.agentId, record);
    this.heartbeats.add(req.agentId);
    stats.agentsStarted++;
    return { status: 201, agentId: req.agentId, pid: record.pid };
  }

  /** Offers a token; an accepted one is written to the agent's file. */
  refresh(agentId: string, token: unknown): OfferResult {
    const record = this.#agents.get(agentId);
    if (!record) return { status: 404 };
    const result = this.#deps.tokens.offer(agentId, token);
    if (result.status === 200) {
      this.#deps.stats.tokensAccepted++;
      if (result.changed && record.status === 'running') this.#deps.files.write(agentId, token as string);
    } else if (result.status === 409) {
      this.#deps.stats.tokensRejected409++;
    }
    return result;
  }

  message(agentId: string, text: string): boolean {
    const record = this.#agents.get(agentId);
    if (!record || record.status !== 'running') return false;
    return record.process.send(JSON.stringify({ type: 'message', text }));
  }

  /** Stops the process tree and forgets everything at once (the Worker has revoked its tokens). */
  async stop(agentId: string): Promise<boolean> {
    const record = this.#agents.get(agentId);
    if (!record) return false;
    record.outbox.close('stopped');
    this.#forget(record);
    await record.process.kill();
    return true;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#agents.keys()].map((id) => this.stop(id)));
    this.heartbeats.stop();
  }

  /**
   * The control server is going away (not the agents' work): deliver what is buffered,
   * within `timeoutMs`, then end the processes without completion reports, so the TownDO
   * starts them again on the next container rather than marking them finished.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#shuttingDown = true;
    this.heartbeats.stop();
    const records = [...this.#agents.values()];
    await Promise.all(records.map((r) => r.process.kill()));
    for (const record of records) record.outbox.retryNow();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && records.some((r) => r.outbox.pending > 0)) await new Promise((r) => setTimeout(r, 100));
    for (const record of records) {
      record.outbox.close('stopped');
      this.#forget(record);
    }
  }

  list() {
    return [...this.#agents.values()].map((a) => {
      const claims = this.#deps.tokens.claims(a.agentId);
      return {
        agentId: a.agentId,
        townId: a.townId,
        role: a.role,
        status: a.status,
        pid: a.pid,
        tokenExpiresAt: claims ? new Date(claims.exp * 1000).toISOString() : null,
        tokenAcceptedAt: toIso(this.#deps.tokens.acceptedAt(a.agentId)),
        lastHeartbeatOkAt: toIso(a.lastHeartbeatOkAt),
        heartbeatFailures: a.heartbeats.failures,
        lastHeartbeatFailure: a.heartbeats.last,
        pendingDeliveries: a.outbox.pending,
        deliveryFailures: a.outbox.failures.failures,
        lastDeliveryFailure: a.outbox.failures.last,
      };
    });
  }

  /** Exit: the token file goes at once; the token stays until the completion report is delivered. */
  #exited(record: AgentRecord, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#agents.get(record.agentId) !== record) return;
    record.status = 'exited';
    this.heartbeats.remove(record.agentId);
    this.#deps.files.remove(record.agentId);
    if (this.#shuttingDown) return;
    const status = code === 0 ? 'completed' : 'failed';
    record.outbox.addCallback('completed', '/completed', { status, summary: code === 0 ? 'exited 0' : `exited ${code ?? signal}` });
    record.outbox.whenDrained(() => {
      if (this.#agents.get(record.agentId) === record) this.#forget(record);
    });
  }

  #forget(record: AgentRecord): void {
    this.heartbeats.remove(record.agentId);
    this.#deps.tokens.forget(record.agentId);
    this.#deps.files.remove(record.agentId);
    if (this.#agents.get(record.agentId) === record) this.#agents.delete(record.agentId);
  }

  async #heartbeat(agentId: string): Promise<boolean> {
    const record = this.#agents.get(agentId);
    if (!record || record.status !== 'running') return false;
    const reply = await this.#client.post(record, '/heartbeat', { status: 'working' }, 'heartbeat');
    const ok = reply.status >= 200 && reply.status < 300;
    if (ok) {
      record.lastHeartbeatOkAt = this.now();
      record.heartbeats.succeeded();
    } else {
      record.heartbeats.failed(reply, this.now());
    }
    return ok;
  }
}

/** The line's JSON object (surrounding whitespace ignored); null for anything else, JSON arrays, strings and numbers included. */
function parseObject(line: string): Record<string, unknown> | null {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(trimmed);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function toIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
