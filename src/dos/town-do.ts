import { DurableObject } from 'cloudflare:workers';
import { readConfig, type GastownConfig } from '../domain/config';
import { ALARM_RETRY_CAP_MS, alarmRetryDelayMs } from '../domain/refresh-policy';
import { keyRing } from '../domain/signing-keys';
import type { AgentClaims, ContainerClaims } from '../domain/tokens';
import type { Env } from '../env';
import { AppError, toResult, type Result } from '../errors';
import { TOOL_DEFINITIONS, type ToolName } from '../routes/schemas';
import * as agentApi from '../services/agent-api';
import { ControlClient, type ControlTransport } from '../services/control-client';
import { createAndDispatch, stopAgent } from '../services/dispatcher';
import { storeDropReports } from '../services/drops';
import { EventHub } from '../services/event-hub';
import { NEXT_RECONCILE_AT, reconcile, reconcileDue, runDueStarts, type LifecycleReport } from '../services/lifecycle';
import { sendMayorMessage } from '../services/mayor';
import { refreshPass } from '../services/refresher';
import { remintForContainer } from '../services/remint';
import { retentionDueAt, retentionPass } from '../services/retention';
import { settingsView, updateSettings } from '../services/settings';
import { requireTown, type TownContext } from '../services/town-context';
import { TOOLS } from '../services/tools';
import { publicAgent, publicBead, publicMail, townView } from '../services/town-view';
import { AgentStore, type Role } from '../storage/agent-store';
import { BeadStore } from '../storage/bead-store';
import { ConversationStore } from '../storage/conversation-store';
import { DropStore, type DropReport } from '../storage/drop-store';
import { EventStore } from '../storage/event-store';
import { MailStore } from '../storage/mail-store';
import { TOWN_MIGRATIONS } from '../storage/migrations';
import { Sql, applyMigrations, hasTable } from '../storage/sql';
import { TokenHistoryStore } from '../storage/token-history-store';
import { TownStore } from '../storage/town-store';

const ALARM_FAILURES = 'alarm_failures';

/** Who is calling a user-facing method, and the public URL agents should call back. */
export interface UserCall {
  userId: string;
  apiUrl: string;
}

/**
 * One town: its state in SQLite, its one alarm (token refresh, due starts,
 * reconciliation), its container. The public methods are the RPC API; the logic lives in
 * services/, storage/ and domain/. Storage is created by `createTown` only: any other
 * call on an object holding no town is a 404 that writes nothing.
 */
export class TownDO extends DurableObject<Env> {
  readonly #ctx: TownContext;
  readonly #hub = new EventHub();
  #ready = false;

  constructor(state: DurableObjectState, env: Env) {
    super(state, env);
    const sql = new Sql(state.storage.sql);
    const events = new EventStore(sql);
    const config = readConfig(env);
    this.#ctx = {
      config,
      towns: new TownStore(sql),
      agents: new AgentStore(sql),
      beads: new BeadStore(sql),
      mail: new MailStore(sql),
      events,
      conversation: new ConversationStore(sql),
      drops: new DropStore(sql),
      tokenHistory: new TokenHistoryStore(sql),
      control: new ControlClient(controlTransport(env, config, state), config.containerControlSecret),
      keys: () => keyRing(config.jwtSecret, config.jwtSecretPrevious),
      now: () => Date.now(),
      random: () => Math.random(),
      transaction: (fn) => state.storage.transactionSync(fn),
      emit: (type, data) => this.#hub.publish(events.appendTownEvent(type, data, Date.now())),
      rearm: () => this.#rearm(),
    };
    state.blockConcurrencyWhile(async () => {
      if (!hasTable(state.storage.sql, 'schema_migrations')) return;
      applyMigrations(state.storage, TOWN_MIGRATIONS);
      this.#ready = true;
      // an alarm stored under an older schedule (or lost) must not leave due work waiting
      await this.#ensureAlarm(ALARM_RETRY_CAP_MS);
    });
  }

  // ---- user-facing ----

  async createTown(input: { id: string; name: string } & UserCall) {
    return toResult(async () => {
      if (!this.#ready) {
        applyMigrations(this.ctx.storage, TOWN_MIGRATIONS);
        this.#ready = true;
      }
      if (this.#ctx.towns.get()) throw new AppError('conflict', 'town already exists');
      this.#ctx.towns.create({ id: input.id, name: input.name, userId: input.userId, apiUrl: input.apiUrl }, Date.now());
      this.#ctx.emit('town.created', { townId: input.id, name: input.name });
      return { id: input.id, name: input.name };
    });
  }

  /** Whether the caller owns this town (404 otherwise): the cheapest check, for the event stream. */
  async access(call: UserCall) {
    return this.#user(call, () => ({ townId: requireTown(this.#ctx).id }));
  }

  async getTown(call: UserCall) {
    return this.#user(call, () => townView(this.#ctx));
  }

  async listAgents(call: UserCall, page: { after?: string; limit: number; status?: string }) {
    return this.#user(call, () => ({ agents: this.#ctx.agents.page(page).map((a) => publicAgent(this.#ctx, a)) }));
  }

  async listBeads(call: UserCall, page: { after?: string; limit: number; status?: string }) {
    return this.#user(call, () => ({ beads: this.#ctx.beads.page(page).map(publicBead) }));
  }

  async createRig(call: UserCall, input: { name: string; gitUrl?: string }) {
    return this.#user(call, () => {
      const limit = this.#ctx.config.quotas.rigsPerTown;
      if (this.#ctx.towns.countRigs() >= limit) throw new AppError('rate_limited', `a town has at most ${limit} rigs (MAX_RIGS_PER_TOWN)`, { retryAfter: 60 });
      const rig = this.#ctx.towns.createRig({ id: `rig-${crypto.randomUUID()}`, name: input.name, gitUrl: input.gitUrl ?? null }, Date.now());
      this.#ctx.emit('rig.created', { rigId: rig.id, name: rig.name });
      return { id: rig.id, name: rig.name };
    });
  }

  /** Starts an agent. A mayor belongs to the town, not the rig (no rigId), and there is at most one live. */
  async dispatchAgent(call: UserCall, input: { rigId: string; role: Role; beadId?: string; runtime?: string; command?: string[] }) {
    return this.#user(call, async () => {
      const ctx = this.#ctx;
      if (!ctx.towns.rig(input.rigId)) throw new AppError('not_found', `rig ${input.rigId} not found`);
      if (input.beadId && input.role !== 'polecat') throw new AppError('bad_request', 'only a polecat takes a bead');
      if (input.beadId && !ctx.beads.get(input.beadId)) throw new AppError('not_found', `bead ${input.beadId} not found`);
      const mayor = input.role === 'mayor' ? ctx.agents.liveByRole('mayor')[0] : undefined;
      if (mayor) throw new AppError('conflict', `the town's mayor is already running (${mayor.id}); stop it first to start another`);
      const runtime = input.command ? null : (input.runtime ?? requireTown(ctx).defaultRuntime);
      const agent = await createAndDispatch(ctx, { role: input.role, rigId: input.role === 'mayor' ? null : input.rigId, beadId: input.beadId ?? null, command: input.command ?? null, runtime });
      return { id: agent.id, role: agent.role, status: agent.status, runtime: agent.runtime ?? 'command' };
    });
  }

  async sendMayorMessage(call: UserCall, text: string) {
    return this.#user(call, () => sendMayorMessage(this.#ctx, text));
  }

  async listMayorMessages(call: UserCall, page: { after: number; limit: number }) {
    return this.#user(call, () => ({
      messages: this.#ctx.conversation.after(page.after, page.limit).map((m) => ({ ...m, at: new Date(m.at).toISOString() })),
    }));
  }

  async getSettings(call: UserCall) {
    return this.#user(call, () => settingsView(this.#ctx));
  }

  async putSettings(call: UserCall, input: { runtime?: string; agentEnv?: Record<string, string | null> }) {
    return this.#user(call, () => updateSettings(this.#ctx, input));
  }

  async stopAgent(call: UserCall, agentId: string) {
    return this.#user(call, async () => {
      const agent = await stopAgent(this.#ctx, agentId);
      return { id: agent.id, role: agent.role, status: agent.status };
    });
  }

  async agentEvents(call: UserCall, agentId: string, limit: number) {
    return this.#user(call, () => {
      if (!this.#ctx.agents.get(agentId)) throw new AppError('not_found', `agent ${agentId} not found`);
      return { agentId, events: this.#ctx.events.agentEvents(agentId, limit).map((e) => ({ ...(JSON.parse(e.data) as object), storedAt: new Date(e.at).toISOString() })) };
    });
  }

  /** Tokens the town's agents held since `since` (ms): the refresh timeline. */
  async tokenHistory(call: UserCall, since: number, limit: number) {
    return this.#user(call, () => {
      const { tokens, truncated } = this.#ctx.tokenHistory.since(since, limit);
      return { tokens: tokens.map((t) => ({ ...t, issuedAt: new Date(t.issuedAt).toISOString(), expiresAt: new Date(t.expiresAt).toISOString() })), truncated };
    });
  }

  /** The town's most recent mail, newest first (bodies included: the user owns the town). */
  async listMail(call: UserCall, limit: number) {
    return this.#user(call, () => ({ mail: this.#ctx.mail.recent(limit).map(publicMail) }));
  }

  async refreshNow(call: UserCall) {
    return this.#user(call, async () => {
      try {
        return await refreshPass(this.#ctx, { force: true });
      } finally {
        await this.#rearm();
      }
    });
  }

  // ---- container-facing (the container credential's signature and town were verified by the Worker) ----

  /**
   * The town's container stopped (TownContainer.onStop): whatever it ran is gone. The live
   * set is reconciled against the new container at once (starting again what it lost).
   */
  async containerStopped(info: { exitCode: number; reason: string }) {
    return this.#run(async () => {
      const live = this.#ctx.agents.countLive();
      console.log(JSON.stringify({ msg: 'container stopped', town: this.#ctx.towns.get()?.id ?? null, exitCode: info.exitCode, reason: info.reason, liveAgents: live }));
      if (live > 0) {
        this.#ctx.towns.setCounter(NEXT_RECONCILE_AT, Date.now());
        await this.#rearm();
      }
      return { liveAgents: live };
    });
  }

  async remintForContainer(credential: ContainerClaims, agentId: string) {
    return this.#run(() => remintForContainer(this.#ctx, credential, agentId));
  }

  async storeDropReports(credential: ContainerClaims, reports: DropReport[]) {
    return this.#run(() => storeDropReports(this.#ctx, credential, reports));
  }

  // ---- agent-facing (claims verified by the middleware; revocation checked here) ----

  async heartbeat(claims: AgentClaims, body: { status?: 'working' | 'idle'; detail?: string }) {
    return this.#run(async () => {
      const result = agentApi.heartbeat(this.#ctx, claims, body);
      await this.#ensureAlarm(Number.POSITIVE_INFINITY);
      return result;
    });
  }

  async storeEvents(claims: AgentClaims, events: unknown[]) {
    return this.#run(() => agentApi.storeEvents(this.#ctx, claims, events));
  }

  async completed(claims: AgentClaims, body: { status: 'completed' | 'failed'; summary?: string }) {
    return this.#run(() => agentApi.completed(this.#ctx, claims, body));
  }

  async reviewComplete(claims: AgentClaims, body: { beadId: string; outcome: 'merged' | 'rejected' }) {
    return this.#run(() => agentApi.reviewComplete(this.#ctx, claims, body));
  }

  /** A tool call: tools that change the town need a live agent; every call counts against the agent's rate. */
  async callTool(claims: AgentClaims, tool: ToolName, args: Record<string, unknown>) {
    return this.#run(async () => {
      const agent = agentApi.authorizeAgent(this.#ctx, claims);
      if (TOOL_DEFINITIONS[tool].mutates) agentApi.requireRunning(agent);
      agentApi.takeToolCall(this.#ctx, agent);
      const handler = TOOLS[tool] as (ctx: TownContext, a: typeof agent, args: unknown) => unknown;
      return await handler(this.#ctx, agent, args);
    });
  }

  // ---- alarm and stream ----

  /**
   * Runs what is due: token refreshes, (once per stall window while agents are live)
   * reconciliation with the container, then starts past their deadline and due restarts
   * (the agents reconciliation found lost among them), then retention; then re-arms for
   * the earliest remaining work, whatever happened.
   */
  async alarm(): Promise<void> {
    let failed = false;
    try {
      if (!this.#ready || !this.#ctx.towns.get()) return;
      const refresh = await refreshPass(this.#ctx);
      const life: LifecycleReport = { adopted: 0, started: 0, failed: 0 };
      if (this.#ctx.agents.countLive() > 0 && reconcileDue(this.#ctx)) await reconcile(this.#ctx, life);
      await runDueStarts(this.#ctx, life);
      retentionPass(this.#ctx);
      if (refresh.results.length > 0 || life.started + life.adopted + life.failed > 0 || life.reconciled?.lost || life.reconciled?.stopped) {
        console.log(JSON.stringify({ msg: 'refresh pass', town: this.#ctx.towns.get()?.id, refreshed: refresh.refreshed, failed: refresh.failed, restarted: refresh.restarted + (life.reconciled?.lost ?? 0), started: life.started, adopted: life.adopted, startsFailed: life.failed, stopped: life.reconciled?.stopped ?? 0, subrequests: refresh.subrequests }));
      }
      this.#ctx.towns.setCounter(ALARM_FAILURES, 0);
    } catch (err) {
      failed = true;
      const failures = this.#ctx.towns.counter(ALARM_FAILURES) + 1;
      this.#ctx.towns.setCounter(ALARM_FAILURES, failures);
      console.error(JSON.stringify({ msg: 'refresh pass failed', failures, error: String((err as Error)?.message ?? err) }));
    } finally {
      if (this.#ready) await this.#rearm(failed ? Date.now() + alarmRetryDelayMs(this.#ctx.towns.counter(ALARM_FAILURES)) : 0);
    }
  }

  /**
   * `GET /events` as Server-Sent Events: replays every retained event after
   * `Last-Event-ID` (first saying so with a `gap` frame when events it asks for are no
   * longer retained), then follows live. Subscribers per town are capped (429).
   */
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== '/events' || !this.#ready) return new Response('not found', { status: 404 });
    const cap = this.#ctx.config.quotas.sseSubscribersPerTown;
    if (this.#hub.size >= cap) {
      return new Response(JSON.stringify({ error: { code: 'rate_limited', message: `a town streams to at most ${cap} subscribers (MAX_SSE_SUBSCRIBERS_PER_TOWN)` } }), {
        status: 429,
        headers: { 'content-type': 'application/json', 'retry-after': '5' },
      });
    }
    const raw = Number(request.headers.get('last-event-id') ?? url.searchParams.get('after') ?? 0);
    const after = Number.isFinite(raw) && raw > 0 ? Math.floor(raw) : 0;
    const oldest = this.#ctx.events.oldestTownEventId();
    const gap = after > 0 && oldest !== null && oldest > after + 1 ? { after, oldest } : null;
    return this.#hub.subscribe(this.#ctx.events.townEventsAfter(after), request.signal, gap);
  }

  /** Alarm at the earliest due work (not before `notBefore`); none when nothing is due. */
  async #rearm(notBefore = 0): Promise<void> {
    const earliest = this.#earliestWork();
    if (earliest === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.max(earliest, notBefore);
    const current = await this.ctx.storage.getAlarm();
    if (current !== at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Self-healing: a town with due work must have an alarm, and not one later than its
   * earliest due work by more than `slackMs` (an alarm backing off after failed passes is
   * that late on purpose). Checked on heartbeats (cheap: the runtime caches the alarm time)
   * and whenever the object wakes.
   */
  async #ensureAlarm(slackMs: number): Promise<void> {
    const earliest = this.#earliestWork();
    if (earliest === null) return;
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > earliest + slackMs) await this.#rearm();
  }

  /**
   * The earliest due work: a refresh, start deadline or restart; while agents are live, the
   * next reconciliation (scheduled one stall window ahead when none is); retention. Null
   * when nothing is due.
   */
  #earliestWork(): number | null {
    const times = [this.#ctx.agents.earliestDue(), retentionDueAt(this.#ctx)];
    if (this.#ctx.agents.countLive() > 0) {
      let reconcileAt = this.#ctx.towns.counter(NEXT_RECONCILE_AT);
      if (reconcileAt === 0) {
        reconcileAt = Date.now() + this.#ctx.config.stallAfterSeconds * 1000;
        this.#ctx.towns.setCounter(NEXT_RECONCILE_AT, reconcileAt);
      }
      times.push(reconcileAt);
    }
    const due = times.filter((t): t is number => t !== null);
    return due.length > 0 ? Math.min(...due) : null;
  }

  /** Runs a method on an object that holds a town (404 otherwise, writing nothing). */
  #run<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
    return toResult(() => {
      if (!this.#ready) throw new AppError('not_found', 'town not found');
      return fn();
    });
  }

  /** Runs a user-facing method for the town's owner (others get 404, as for a town that does not exist). */
  #user<T>(call: UserCall, fn: () => T | Promise<T>): Promise<Result<T>> {
    return this.#run(() => {
      const town = requireTown(this.#ctx);
      if (town.userId !== call.userId) throw new AppError('not_found', 'town not found');
      if (call.apiUrl) this.#ctx.towns.setApiUrl(call.apiUrl);
      return fn();
    });
  }
}

/** The control-server seam: CONTAINER_URL in local mode, else the town's Container binding. */
function controlTransport(env: Env, config: GastownConfig, state: DurableObjectState): ControlTransport {
  if (config.containerUrl) {
    const base = config.containerUrl;
    return (path, init) => fetch(`${base}${path}`, init);
  }
  return (path, init) => {
    const townId = state.id.name ?? state.id.toString();
    return env.TOWN_CONTAINER.getByName(townId).fetch(new Request(`http://container${path}`, init));
  };
}
