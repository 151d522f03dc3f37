/**
 * `npm start`: a local town. Runs the Worker (wrangler dev: local Durable Objects and
 * alarms) and the container control server as a local process, wired by CONTAINER_URL.
 * Development secrets are generated into .dev.vars on first run; any contract variable
 * set in the environment overrides it (e.g. AGENT_TOKEN_TTL_SECONDS=30). With CONTAINER_URL
 * set, the Worker uses that control server and none is started here.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDevVars } from './lib/dev-secrets.ts';
import { GastownApi } from './lib/gastown-api.ts';
import { PortInUseError, ROOT, startLocalTown, type LocalTown } from './lib/local-town.ts';
import { isolationPlan, startPlan } from './lib/start-plan.ts';
import { parseRefreshPass } from './lib/worker-log.ts';

const port = Number(process.env.PORT ?? 8787);
const containerPort = Number(process.env.CONTAINER_PORT ?? 8080);
const stateDir = join(ROOT, '.wrangler/gastown');
mkdirSync(stateDir, { recursive: true });

const { vars: fileVars, created } = ensureDevVars(join(ROOT, '.dev.vars'));
const plan = startPlan(fileVars, process.env);
const vars = plan.vars;
if (created) console.log('Generated development secrets into .dev.vars (git-ignored).');

/** wrangler's failed lookups of Cloudflare's edge when offline: harmless locally. */
const OFFLINE_NOISE = /Request\.cf|workers\.cloudflare\.com|GetAddrInfoReqWrap|metrics/;
const say = (line: string) => console.log(`[gastown] ${line}`);
say(
  plan.externalControlUrl
    ? `starting the Worker on :${port}, using the control server at CONTAINER_URL=${plan.externalControlUrl} (none started here) ...`
    : `starting the Worker on :${port} and the control server on :${containerPort} ...`,
);

const isolation = isolationPlan(ROOT, process.getuid?.());
if (isolation.closed) {
  say(`agents will NOT be isolated: ${isolation.closed} cannot be entered by other users, so agents under uids of their own could not run this checkout. Clone it below a folder others can enter (e.g. /srv or /opt) to isolate them.`);
}

let town: LocalTown;
const logLine = (source: 'worker' | 'control', line: string) => {
  const pass = parseRefreshPass(line);
  if (pass) {
    const checks = pass.stallChecks > 0 ? ` (${pass.stallChecks} silent agent(s) checked for)` : '';
    say(`token refresh pass: ${pass.refreshed} refreshed, ${pass.failed} failed (retry scheduled), ${pass.restarted} restarted${checks}, ${pass.subrequests} request(s) to the container`);
  } else if (process.env.GASTOWN_VERBOSE || (/error|fail(ed|ing)|recovered|\bwarn/i.test(line) && !OFFLINE_NOISE.test(line))) {
    console.log(`[${source}] ${line}`);
  }
};
try {
  town = await startLocalTown({
    port,
    containerPort,
    vars,
    stateDir,
    ...(plan.externalControlUrl ? { controlServer: false, workerContainerUrl: plan.externalControlUrl } : {}),
    onLine: logLine,
    ...(isolation.closed ? { controlEnv: { GASTOWN_ISOLATION: 'off' } } : {}),
    onExit(source, code, signal) {
      say(`${source === 'worker' ? 'the Worker (wrangler dev)' : 'the control server'} exited on its own (${code ?? signal}); stopping the town.`);
      void town.stop().finally(() => process.exit(1));
    },
  });
} catch (err) {
  if (!(err instanceof PortInUseError)) throw err;
  say(`${err.message}: is another \`npm start\` running? Choose free ports with ${err.role === 'worker' ? 'PORT' : 'CONTAINER_PORT'}=... npm start`);
  process.exit(1);
}

const api = new GastownApi(town.workerUrl, vars.GASTOWN_CLIENT_ID!, vars.GASTOWN_CLIENT_SECRET!);
// the town named "local" from an earlier run (the Worker lists the caller's towns), else a new one
const towns = (await api.ok<{ towns: Array<{ id: string; name: string }> }>('GET', '/api/towns?limit=500')).towns;
const existing = towns.find((t) => t.name === 'local');
const townId = existing?.id ?? (await api.createTown('local')).id;
const rigs = (await api.town(townId)).rigs as Array<{ id: string }>;
const local = { townId, rigId: rigs[0]?.id ?? (await api.createRig(townId, 'default')).id };

const tokenCmd = plan.tokenCommand(town.workerUrl);
console.log(`
Gastown is running.
  Worker:          ${town.workerUrl}
  Control server:  ${town.containerUrl}${plan.externalControlUrl ? ' (from CONTAINER_URL, not started here)' : ''}
  Town:            ${local.townId} (rig ${local.rigId})
  Token lifetime:  ${vars.AGENT_TOKEN_TTL_SECONDS ?? 28800} s, refreshed every ${vars.TOKEN_REFRESH_INTERVAL_SECONDS ?? 3600} s (at most half the lifetime)

Open the dashboard:  ${town.workerUrl}/  (sign in with client id ${vars.GASTOWN_CLIENT_ID} and the secret in .dev.vars)

Drive it with the CLI (its tokens renew themselves):
  export GASTOWN_URL=${town.workerUrl} GASTOWN_CLIENT_ID=${vars.GASTOWN_CLIENT_ID} GASTOWN_CLIENT_SECRET=${plan.secretExpression}
  npx gastown mayor ${local.townId} "add a health check"
  npx gastown tokens ${local.townId}
  npx gastown events ${local.townId} --follow

Or with curl:
  TOKEN=$(${tokenCmd} | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s ${town.workerUrl}/api/towns/${local.townId}/mayor/messages -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"text":"add a health check"}'
  curl -s ${town.workerUrl}/api/towns/${local.townId} -H "authorization: Bearer $TOKEN"
  curl -N ${town.workerUrl}/api/towns/${local.townId}/events -H "authorization: Bearer $TOKEN"

Ctrl-C stops ${plan.externalControlUrl ? 'the Worker' : 'both'}.
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    say('stopping ...');
    await town.stop();
    say('stopped.');
    process.exit(0);
  });
}
