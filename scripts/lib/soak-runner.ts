import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy } from './fault-proxy.ts';
import { GastownApi } from './gastown-api.ts';
import { ROOT, startLocalTown, type LocalTown } from './local-town.ts';
import { freePort } from './ports.ts';
import { freezeAgentsOf, settledStats, sumStats, type ControlStats } from './soak-stats.ts';
import { workerStatusCounter } from './worker-log.ts';

/** What to soak. */
export interface SoakOptions {
  agents: number;
  minutes: number;
  ttl: number;
  faults: boolean;
  log?: (line: string) => void;
}

/** Events by what became of them. `lost` = queued − stored − drops other than refusals and truncations (never clamped). */
export interface SoakEvents {
  queued: number;
  stored: number;
  trimmed: number;
  dropped: Record<string, number>;
  lost: number;
}

/** What the soak measured. */
export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  durationSeconds: number;
  agents: number;
  workerRequests: number;
  workerByStatus: Record<string, number>;
  failures: { expired401: number; revoked401: number; other401: number; forbidden403: number };
  refreshesPushed: number;
  refreshPushesDropped: number;
  remints: number;
  restarts: { controlServerTerm: number; controlServerKill: number; worker: number };
  leftoverAgentsEnded: number;
  events: SoakEvents;
  beads: { total: number; closed: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NOISY_AGENT = join(ROOT, 'scripts/harness/noisy-agent.mjs');
const SKEW_CLOCK = join(ROOT, 'scripts/harness/skew-clock.mjs');
const ALARM_FAULTS = join(ROOT, 'scripts/harness/faulty-alarm-worker.ts');

/**
 * Runs a town of `agents` agents for `minutes` with `ttl`-second tokens: a mayor, a
 * refinery, built-in polecats, and noisy agents printing what agents no one here wrote
 * print (15 KB and 200 KB lines, arrays, wrong types, broken JSON). With faults, all injected from
 * outside the product: 30% of refresh pushes dropped by a proxy, 20% of alarm passes
 * throwing (a harness Worker entry wrapping the TownDO), the control server stopped with
 * SIGTERM (clock skewed −20 s after) and later killed with SIGKILL (+20 s after), and
 * wrangler dev restarted (every Durable Object evicted).
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const stateDir = mkdtempSync(join(tmpdir(), 'gastown-soak-'));
  const worker = workerStatusCounter();
  const containerPort = await freePort();
  let dropPercent = 0;
  const proxy = await startFaultProxy(`http://127.0.0.1:${containerPort}`, () => dropPercent);
  const runMs = options.minutes * 60_000;
  const stepMs = 3_000;
  const vars = {
    GASTOWN_JWT_SECRET: randomBytes(36).toString('base64url'),
    CONTAINER_CONTROL_SECRET: randomBytes(24).toString('base64url'),
    GASTOWN_CLIENT_ID: 'soak',
    GASTOWN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    AGENT_TOKEN_TTL_SECONDS: String(options.ttl),
    TOKEN_REFRESH_INTERVAL_SECONDS: String(Math.max(1, Math.floor(options.ttl / 4))),
    HEARTBEAT_INTERVAL_SECONDS: '3',
    STALL_AFTER_SECONDS: '20',
    MAX_LIVE_AGENTS_PER_TOWN: String(options.agents + 10),
    ...(options.faults ? { HARNESS_ALARM_THROW_PERCENT: '20' } : {}),
  };
  const finalStats: ControlStats[] = [];
  const town = await startLocalTown({
    port: await freePort(),
    containerPort,
    vars,
    stateDir,
    workerContainerUrl: proxy.url,
    ...(options.faults ? { workerMain: ALARM_FAULTS, controlNodeArgs: ['--import', SKEW_CLOCK] } : {}),
    controlEnv: {
      GASTOWN_AGENT_STEP_MS: String(stepMs),
      GASTOWN_POLECAT_STEPS: String(Math.ceil(runMs / stepMs) + 100),
      GASTOWN_REFINERY_POLL_MS: '2000',
      NOISY_STEP_MS: '250',
    },
    onLine(source, line) {
      if (source === 'worker') worker.feed(line);
      if (source === 'control' && line.includes('"final stats"')) {
        try {
          finalStats.push(JSON.parse(line).stats);
        } catch {
          // not a stats line after all
        }
      }
      if (process.env.GASTOWN_SOAK_VERBOSE) console.log(`[${source}] ${line}`);
    },
  });
  const api = new GastownApi(town.workerUrl, vars.GASTOWN_CLIENT_ID, vars.GASTOWN_CLIENT_SECRET);
  const restarts = { controlServerTerm: 0, controlServerKill: 0, worker: 0 };
  const started = Date.now();
  try {
    const { id: townId } = await api.createTown('soak');
    const rig = await api.createRig(townId, 'main');
    await api.dispatch(townId, rig.id, 'refinery');
    const noisy = Math.max(1, Math.round(options.agents / 6));
    for (let i = 0; i < noisy; i++) await api.dispatch(townId, rig.id, 'polecat', { command: [process.execPath, NOISY_AGENT] });
    for (let i = 0; i < options.agents - 2 - noisy; i++) await api.tellMayor(townId, `soak task ${i + 1}`);
    log(`town ${townId}: ${options.agents} agents started (${noisy} noisy)`);
    if (options.faults) dropPercent = 30;

    const faults = options.faults
      ? [
          { at: 0.25, name: 'control server stopped (SIGTERM) and restarted, clock skewed -20 s', run: () => restartControl(town, 'SIGTERM', '-20000').then(() => restarts.controlServerTerm++) },
          { at: 0.45, name: 'wrangler dev restarted (every Durable Object evicted)', run: () => town.restartWorker().then(() => restarts.worker++) },
          { at: 0.65, name: 'control server killed (SIGKILL) and restarted, clock skewed +20 s', run: () => killControl(town, vars.CONTAINER_CONTROL_SECRET, finalStats).then(() => restarts.controlServerKill++) },
        ]
      : [];
    let chats = 0;
    while (Date.now() - started < runMs) {
      const elapsed = (Date.now() - started) / runMs;
      const due = faults.find((f) => f.at <= elapsed);
      if (due) {
        faults.splice(faults.indexOf(due), 1);
        log(`fault: ${due.name}`);
        await due.run();
      }
      const chat = await api.call('POST', `/api/towns/${townId}/mayor/messages`, { text: 'status' });
      if (chat.status === 200) chats++;
      await sleep(10_000);
    }
    dropPercent = 0;
    log(`run over after ${chats} chats; stopping the control server (it delivers what it holds)`);
    // Events are compared only once nothing can emit: the control server's shutdown ends the
    // agents, delivers what they printed and what its journal holds, and prints its stats.
    const incarnations = finalStats.length;
    await town.stopControl();
    if (finalStats.length !== incarnations + 1) throw new Error('the control server printed no final stats');
    const total = sumStats(finalStats);
    const view = await api.town(townId);
    const stored = view.agents.reduce((n: number, a: { eventsStored: number }) => n + a.eventsStored, 0);
    const refreshes = view.agents.reduce((n: number, a: { refreshCount: number }) => n + a.refreshCount, 0);
    const dropped: Record<string, number> = { ...(view.drops?.event ?? {}) };
    // a refused event was not stored (lost); a truncated one was stored (cut), so neither is forgiven
    const forgiven = Object.entries(dropped).reduce((n, [cause, count]) => n + (cause === 'refused' || cause === 'truncated' ? 0 : count), 0);
    const r = total.responses;
    return {
      options: { agents: options.agents, minutes: options.minutes, ttl: options.ttl, faults: options.faults },
      durationSeconds: Math.round((Date.now() - started) / 1000),
      agents: view.agents.length,
      workerRequests: worker.counts.total,
      workerByStatus: worker.counts.byStatus,
      failures: { expired401: r['401_expired'] ?? 0, revoked401: r['401_revoked'] ?? 0, other401: r['401_other'] ?? 0, forbidden403: r['403'] ?? 0 },
      refreshesPushed: refreshes,
      refreshPushesDropped: proxy.counts.refreshDropped,
      remints: total.remints,
      restarts,
      leftoverAgentsEnded: total.leftoverAgentsEnded,
      events: { queued: total.eventsQueued, stored, trimmed: view.eventsTrimmed ?? 0, dropped, lost: total.eventsQueued - stored - forgiven },
      beads: { total: view.beads.length, closed: view.beads.filter((b: { status: string }) => b.status === 'closed').length },
    };
  } finally {
    await town.stop();
    await proxy.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** SIGTERM: the control server ends its agents and keeps what it could not deliver in its journal; a new one starts. */
async function restartControl(town: LocalTown, signal: NodeJS.Signals, skewMs: string): Promise<void> {
  await town.restartControl(signal, { HARNESS_CLOCK_SKEW_MS: skewMs });
}

/**
 * SIGKILL, counted exactly: the agents are frozen first (SIGSTOP to their process groups),
 * so once the control server's counters settle (everything it read is journaled) they
 * are taken as that incarnation's final stats; then the server is killed. Its successor
 * ends the frozen agents it finds left behind and replays the journal.
 */
async function killControl(town: LocalTown, secret: string, finalStats: ControlStats[]): Promise<void> {
  const pid = town.controlPid();
  if (!pid) throw new Error('no local control server to kill');
  freezeAgentsOf(pid);
  finalStats.push(await settledStats(`http://127.0.0.1:${new URL(town.containerUrl).port}`, secret));
  await town.restartControl('SIGKILL', { HARNESS_CLOCK_SKEW_MS: '20000' });
}

/** The report as a human reads it. */
export function formatSoakReport(r: SoakReport): string {
  const f = r.failures;
  const e = r.events;
  const drops = Object.entries(e.dropped).map(([cause, n]) => `${cause} ${n}`).join(', ') || 'none';
  return [
    `soak: ${r.options.agents} agents, ${r.options.minutes} min, ${r.options.ttl} s tokens, faults ${r.options.faults ? 'on' : 'off'} (${r.durationSeconds} s)`,
    `  requests at the Worker:        ${r.workerRequests}  ${JSON.stringify(r.workerByStatus)}`,
    `  failures by cause:             401 expired ${f.expired401} · 401 revoked ${f.revoked401} · 401 other ${f.other401} · 403 ${f.forbidden403}`,
    `  refreshes pushed (accepted):   ${r.refreshesPushed}   pushes dropped by the fault proxy: ${r.refreshPushesDropped}`,
    `  re-mints via the 401 fallback: ${r.remints}`,
    `  restarts:                      control server ${r.restarts.controlServerTerm} SIGTERM + ${r.restarts.controlServerKill} SIGKILL (${r.leftoverAgentsEnded} agents it left behind ended) · Worker ${r.restarts.worker}`,
    `  events:                        queued ${e.queued} · stored ${e.stored} (${e.trimmed} trimmed later by the per-agent byte bound) · dropped: ${drops} · lost ${e.lost}`,
    `  beads:                         ${r.beads.closed}/${r.beads.total} closed (polecats work for the whole run by design)`,
    `  goal: 0 requests failed for an expired token → ${f.expired401 === 0 ? 'met' : 'MISSED'}; 0 events lost → ${e.lost === 0 ? 'met' : 'MISSED'}`,
  ].join('\n');
}
