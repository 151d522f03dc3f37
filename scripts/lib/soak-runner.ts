import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFaultProxy } from './fault-proxy.ts';
import { GastownApi } from './gastown-api.ts';
import { startLocalTown } from './local-town.ts';
import { freePort } from './ports.ts';
import { workerStatusCounter } from './worker-log.ts';

/** What to soak. */
export interface SoakOptions {
  agents: number;
  minutes: number;
  ttl: number;
  faults: boolean;
  log?: (line: string) => void;
}

/** Control-server counters (see container/README.md, GET /stats), summed over its incarnations. */
type Stats = Record<string, any>;

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
  restarts: { controlServer: number; worker: number };
  events: { queued: number; delivered: number; droppedOverflow: number; droppedEnded: number; stored: number; lost: number };
  beads: { total: number; closed: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function addStats(total: Stats, s: Stats): void {
  for (const [k, v] of Object.entries(s)) {
    if (typeof v === 'number') total[k] = (total[k] ?? 0) + v;
    else if (v && typeof v === 'object') addStats((total[k] ??= {}), v);
  }
}

/**
 * Runs a town of `agents` agents for `minutes` with `ttl`-second tokens. With faults: the
 * control server restarted twice (clock skewed ±20 s), wrangler dev restarted once (every
 * Durable Object evicted), 30% of refresh pushes dropped, 20% of alarm passes throwing.
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
    STALL_AFTER_SECONDS: '60',
    ...(options.faults ? { FAULT_ALARM_THROW_PERCENT: '20' } : {}),
  };
  const finalStats: Stats[] = [];
  const town = await startLocalTown({
    port: await freePort(),
    containerPort,
    vars,
    stateDir,
    workerContainerUrl: proxy.url,
    controlEnv: {
      GASTOWN_AGENT_STEP_MS: String(stepMs),
      GASTOWN_POLECAT_STEPS: String(Math.ceil(runMs / stepMs)),
      GASTOWN_REFINERY_POLL_MS: '2000',
      GASTOWN_CLOCK_SKEW_MS: options.faults ? '20000' : '0',
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
  const restarts = { controlServer: 0, worker: 0 };
  const started = Date.now();
  try {
    const { id: townId } = await api.createTown('soak');
    const rig = await api.createRig(townId, 'main');
    await api.dispatch(townId, rig.id, 'refinery');
    for (let i = 0; i < options.agents - 2; i++) await api.tellMayor(townId, `soak task ${i + 1}`);
    log(`town ${townId}: ${options.agents} agents started`);
    if (options.faults) dropPercent = 30;

    const faults = options.faults
      ? [
          { at: 0.3, name: 'control server killed and restarted (clock skew -20 s)', run: () => town.restartControl('SIGTERM', { GASTOWN_CLOCK_SKEW_MS: '-20000' }).then(() => restarts.controlServer++) },
          { at: 0.5, name: 'wrangler dev restarted (TownDO evicted)', run: () => town.restartWorker().then(() => restarts.worker++) },
          { at: 0.7, name: 'control server killed and restarted (clock skew +20 s)', run: () => town.restartControl('SIGTERM', { GASTOWN_CLOCK_SKEW_MS: '20000' }).then(() => restarts.controlServer++) },
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
    // Agents emit events until their process ends, so counts are compared only once nothing
    // can emit any more: the control server's shutdown ends the agents, delivers their last
    // events to the (running) Worker and prints its final stats.
    const incarnations = finalStats.length;
    await town.stopControl();
    if (finalStats.length !== incarnations + 1) throw new Error('the control server printed no final stats');
    const total: Stats = {};
    for (const s of finalStats) addStats(total, s);

    const view = await api.town(townId);
    const stored = view.agents.reduce((n: number, a: { eventsStored: number }) => n + a.eventsStored, 0);
    const refreshes = view.agents.reduce((n: number, a: { refreshCount: number }) => n + a.refreshCount, 0);
    const r = total.responses ?? {};
    const ev = { queued: total.eventsQueued ?? 0, delivered: total.eventsDelivered ?? 0, droppedOverflow: total.eventsDropped ?? 0, droppedEnded: (total.eventsDroppedRevoked ?? 0) + (total.eventsDroppedStopped ?? 0) };
    return {
      options: { agents: options.agents, minutes: options.minutes, ttl: options.ttl, faults: options.faults },
      durationSeconds: Math.round((Date.now() - started) / 1000),
      agents: view.agents.length,
      workerRequests: worker.counts.total,
      workerByStatus: worker.counts.byStatus,
      failures: { expired401: r['401_expired'] ?? 0, revoked401: r['401_revoked'] ?? 0, other401: r['401_other'] ?? 0, forbidden403: r['403'] ?? 0 },
      refreshesPushed: refreshes,
      refreshPushesDropped: proxy.counts.refreshDropped,
      remints: total.remints ?? 0,
      restarts,
      events: { ...ev, stored, lost: Math.max(0, ev.queued - ev.droppedOverflow - ev.droppedEnded - stored) },
      beads: { total: view.beads.length, closed: view.beads.filter((b: { status: string }) => b.status === 'closed').length },
    };
  } finally {
    await town.stop();
    await proxy.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The report as a human reads it. */
export function formatSoakReport(r: SoakReport): string {
  const f = r.failures;
  return [
    `soak: ${r.options.agents} agents, ${r.options.minutes} min, ${r.options.ttl} s tokens, faults ${r.options.faults ? 'on' : 'off'} (${r.durationSeconds} s)`,
    `  requests at the Worker:        ${r.workerRequests}  ${JSON.stringify(r.workerByStatus)}`,
    `  failures by cause:             401 expired ${f.expired401} · 401 revoked ${f.revoked401} · 401 other ${f.other401} · 403 ${f.forbidden403}`,
    `  refreshes pushed (accepted):   ${r.refreshesPushed}   pushes dropped by the fault proxy: ${r.refreshPushesDropped}`,
    `  re-mints via the 401 fallback: ${r.remints}`,
    `  restarts:                      control server ${r.restarts.controlServer} · Worker ${r.restarts.worker}`,
    `  events sent vs stored:         queued ${r.events.queued} · delivered ${r.events.delivered} · stored ${r.events.stored} · dropped (overflow ${r.events.droppedOverflow}, agent ended ${r.events.droppedEnded}) · lost ${r.events.lost}`,
    `  beads:                         ${r.beads.closed}/${r.beads.total} closed (polecats work for the whole run by design)`,
    `  goal: 0 requests failed for an expired token → ${f.expired401 === 0 ? 'met' : 'MISSED'}; 0 events lost → ${r.events.lost === 0 ? 'met' : 'MISSED'}`,
  ].join('\n');
}
