import { DurableObject } from 'cloudflare:workers';
import { readConfig, type GastownConfig } from '../domain/config';
import { ALARM_RETRY_CAP_MS, alarmRetryDelayMs } from '../domain/refresh-policy';
import { keyRing } from '../domain/signing-keys';
import type { AgentClaims } from '../domain/tokens';
import type { Env } from '../env';
import { AppError, toResult } from '../errors';
import type { ToolName } from '../routes/schemas';
import * as agentApi from '../services/agent-api';
import { ControlClient, type ControlTransport } from '../services/control-client';
import { createAndDispatch, stopAgent } from '../services/dispatcher';
import { EventHub } from '../services/event-hub';
import { sendMayorMessage } from '../services/mayor';
import { refreshPass } from '../services/refresher';
import { remintForContainer } from '../services/remint';
import { requireTown, type TownContext } from '../services/town-context';
import { TOOLS } from '../services/tools';
import { townView } from '../services/town-view';
import { AgentStore, type Role } from '../storage/agent-store';
import { BeadStore } from '../storage/bead-store';
import { EventStore, type AgentEventInput } from '../storage/event-store';
import { MailStore } from '../storage/mail-store';
import { TOWN_MIGRATIONS } from '../storage/migrations';
import { Sql, applyMigrations } from '../storage/sql';
import { TownStore } from '../storage/town-store';

const ALARM_FAILURES = 'alarm_failures';

/** Who is calling a user-facing method, and the public URL agents should call back. */
export interface UserCall {
  userId: string;
  apiUrl: string;
}

/**
 * One town: its state in SQLite, its one alarm (token refresh), its container. The public
 * methods are the RPC API; the logic lives in services/, storage/ and domain/.
 */
export class TownDO extends DurableObject<Env> {
  readonly #ctx: TownContext;
  readonly #hub = new EventHub();

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
      control: new ControlClient(controlTransport(env, config, state), config.containerControlSecret),
      keys: () => keyRing(config.jwtSecret, config.jwtSecretPrevious),
      now: () => Date.now(),
      random: () => Math.random(),
      emit: (type, data) => this.#hub.publish(events.appendTownEvent(type, data, Date.now())),
      rearm: () => this.#rearm(),
    };
    state.blockConcurrencyWhile(async () => {
      applyMigrations(state.storage, TOWN_MIGRATIONS);
      // an alarm stored under an older schedule (or lost) must not leave a due agent waiting
      await this.#ensureAlarm(ALARM_RETRY_CAP_MS);
    });
  }

  // ---- user-facing ----

  async createTown(input: { id: string; name: string } & UserCall) {
    return toResult(async () => {
      if (this.#ctx.towns.get()) throw new AppError('conflict', 'town already exists');
      this.#ctx.towns.create({ id: input.id, name: input.name, userId: input.userId, apiUrl: input.apiUrl }, Date.now());
      this.#ctx.emit('town.created', { townId: input.id, name: input.name });
      return { id: input.id, name: input.name };
    });
  }

  async getTown(call: UserCall) {
    return toResult(async () => {
      this.#owned(call);
      return townView(this.#ctx);
    });
  }

  async createRig(call: UserCall, input: { name: string; gitUrl?: string }) {
    return toResult(async () => {
      this.#owned(call);
      const rig = this.#ctx.towns.createRig({ id: `rig-${crypto.randomUUID()}`, name: input.name, gitUrl: input.gitUrl ?? null }, Date.now());
      this.#ctx.emit('rig.created', { rigId: rig.id, name: rig.name });
      return { id: rig.id, name: rig.name };
    });
  }

  /** Starts an agent. A mayor belongs to the town, not the rig (no rigId), and there is at most one live. */
  async dispatchAgent(call: UserCall, input: { rigId: string; role: Role; beadId?: string; command?: string[] }) {
    return toResult(async () => {
      this.#owned(call);
      if (!this.#ctx.towns.rig(input.rigId)) throw new AppError('not_found', `rig ${input.rigId} not found`);
      if (input.beadId && !this.#ctx.beads.get(input.beadId)) throw new AppError('not_found', `bead ${input.beadId} not found`);
      const mayor = input.role === 'mayor' ? this.#ctx.agents.liveByRole('mayor')[0] : undefined;
      if (mayor) throw new AppError('conflict', `the town's mayor is already running (${mayor.id}); stop it first to start another`);
      const rigId = input.role === 'mayor' ? null : input.rigId;
      const agent = await createAndDispatch(this.#ctx, { role: input.role, rigId, beadId: input.beadId ?? null, command: input.command ?? null });
      return { id: agent.id, role: agent.role, status: agent.status };
    });
  }

  async sendMayorMessage(call: UserCall, text: string) {
    return toResult(async () => {
      this.#owned(call);
      return sendMayorMessage(this.#ctx, text);
    });
  }

  async stopAgent(call: UserCall, agentId: string) {
    return toResult(async () => {
      this.#owned(call);
      const agent = await stopAgent(this.#ctx, agentId);
      return { id: agent.id, role: agent.role, status: agent.status };
    });
  }

  async agentEvents(call: UserCall, agentId: string, limit: number) {
    return toResult(async () => {
      this.#owned(call);
      if (!this.#ctx.agents.get(agentId)) throw new AppError('not_found', `agent ${agentId} not found`);
      return { agentId, events: this.#ctx.events.agentEvents(agentId, limit).map((e) => ({ ...(JSON.parse(e.data) as object), storedAt: new Date(e.at).toISOString() })) };
    });
  }

  async refreshNow(call: UserCall) {
    return toResult(async () => {
      this.#owned(call);
      try {
        return await refreshPass(this.#ctx, { force: true });
      } finally {
        await this.#rearm();
      }
    });
  }

  // ---- container-facing ----

  /**
   * The town's container stopped (TownContainer.onStop): whatever it ran is gone. Every
   * live agent is checked for at once, through the alarm's stall check, which starts
   * again the ones the new container does not have. With no live agent, nothing happens.
   */
  async containerStopped(info: { exitCode: number; reason: string }) {
    return toResult(async () => {
      const now = Date.now();
      const live = this.#ctx.agents.live().filter((a) => a.status !== 'starting');
      for (const agent of live) this.#ctx.agents.setStallCheck(agent.id, now);
      console.log(JSON.stringify({ msg: 'container stopped', town: this.#ctx.towns.get()?.id ?? null, exitCode: info.exitCode, reason: info.reason, liveAgents: live.length }));
      if (live.length > 0) await this.#rearm();
      return { liveAgents: live.length };
    });
  }

  // ---- agent-facing (claims verified by the middleware; revocation checked here) ----

  async heartbeat(claims: AgentClaims, body: { status?: 'working' | 'idle'; detail?: string }) {
    return toResult(async () => {
      const result = agentApi.heartbeat(this.#ctx, claims, body);
      await this.#ensureAlarm(Number.POSITIVE_INFINITY);
      return result;
    });
  }

  async storeEvents(claims: AgentClaims, events: AgentEventInput[]) {
    return toResult(async () => {
      return agentApi.storeEvents(this.#ctx, claims, events);
    });
  }

  async completed(claims: AgentClaims, body: { status: 'completed' | 'failed'; summary?: string }) {
    return toResult(async () => {
      return agentApi.completed(this.#ctx, claims, body);
    });
  }

  async reviewComplete(claims: AgentClaims, body: { beadId: string; outcome: 'merged' | 'rejected' }) {
    return toResult(async () => {
      return agentApi.reviewComplete(this.#ctx, claims, body);
    });
  }

  async callTool(claims: AgentClaims, tool: ToolName, args: Record<string, unknown>) {
    return toResult(async () => {
      const agent = agentApi.authorizeAgent(this.#ctx, claims);
      const handler = TOOLS[tool] as (ctx: TownContext, a: typeof agent, args: unknown) => unknown;
      return await handler(this.#ctx, agent, args);
    });
  }

  // ---- container-facing ----

  async remintForContainer(credential: string, agentId: string) {
    return toResult(async () => {
      return remintForContainer(this.#ctx, credential, agentId);
    });
  }

  // ---- alarm and stream ----

  /** Runs the due refreshes, then re-arms for the earliest remaining one, whatever happened. */
  async alarm(): Promise<void> {
    let failed = false;
    try {
      if (Math.random() * 100 < this.#ctx.config.faultAlarmThrowPercent) throw new Error('injected alarm fault');
      if (this.#ctx.towns.get()) {
        const report = await refreshPass(this.#ctx);
        if (report.results.length > 0) {
          console.log(JSON.stringify({ msg: 'refresh pass', town: this.#ctx.towns.get()?.id, refreshed: report.refreshed, failed: report.failed, restarted: report.restarted, stallChecks: report.stallChecks, subrequests: report.subrequests }));
        }
      }
      this.#ctx.towns.setCounter(ALARM_FAILURES, 0);
    } catch (err) {
      failed = true;
      const failures = this.#ctx.towns.counter(ALARM_FAILURES) + 1;
      this.#ctx.towns.setCounter(ALARM_FAILURES, failures);
      console.error(JSON.stringify({ msg: 'refresh pass failed', failures, error: String((err as Error)?.message ?? err) }));
    } finally {
      await this.#rearm(failed ? Date.now() + alarmRetryDelayMs(this.#ctx.towns.counter(ALARM_FAILURES)) : 0);
    }
  }

  /** `GET /events` as Server-Sent Events, replaying after `Last-Event-ID`. */
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname !== '/events') return new Response('not found', { status: 404 });
    const after = Number(request.headers.get('last-event-id') ?? url.searchParams.get('after') ?? 0);
    const backlog = this.#ctx.events.townEventsAfter(Number.isFinite(after) && after > 0 ? Math.floor(after) : 0);
    return this.#hub.subscribe(backlog, request.signal);
  }

  /** Alarm at the earliest due refresh (not before `notBefore`); none when no agent is live. */
  async #rearm(notBefore = 0): Promise<void> {
    const earliest = this.#ctx.agents.earliestRefresh();
    if (earliest === null) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.max(earliest, notBefore);
    const current = await this.ctx.storage.getAlarm();
    if (current !== at) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Self-healing: a live town must have an alarm, and not one later than its earliest due
   * work by more than `slackMs` (an alarm backing off after failed passes is that late on
   * purpose). Checked on heartbeats (cheap: the runtime caches the alarm time), so a lost
   * alarm is re-armed within a heartbeat period, and whenever the object wakes.
   */
  async #ensureAlarm(slackMs: number): Promise<void> {
    const earliest = this.#ctx.agents.earliestRefresh();
    if (earliest === null) return;
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > earliest + slackMs) await this.#rearm();
  }

  #owned(call: UserCall): void {
    const town = requireTown(this.#ctx);
    if (town.userId !== call.userId) throw new AppError('not_found', 'town not found');
    if (call.apiUrl) this.#ctx.towns.setApiUrl(call.apiUrl);
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
