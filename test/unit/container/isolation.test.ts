import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until, useStandInPair } from './harness.ts';
import { signAgentToken } from './stand-in-worker.ts';

/**
 * Agent A's probes, each the outcome of one attempt ("read", "listed", an HTTP status, or
 * the error code): what another agent, or the control server, holds must be out of reach.
 */
const PROBE = `
const fs = require('fs');
const e = process.env;
const read = (p) => { try { fs.readFileSync(p); return 'read'; } catch (err) { return err.code; } };
const list = (p) => { try { fs.readdirSync(p); return 'listed'; } catch (err) { return err.code; } };
const write = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (err) { return err.code; } };
(async () => {
  const status = async (path, init) => (await fetch(e.GASTOWN_CONTROL_URL + path, init)).status;
  console.log(JSON.stringify({
    type: 'probe',
    uid: process.getuid(),
    groups: process.getgroups(),
    ownToken: read(e.GASTOWN_TOKEN_FILE),
    ownHome: write(e.HOME + '/note'),
    ownWorkDir: write(process.cwd() + '/note'),
    otherToken: read(e.PROBE_B_TOKEN_FILE),
    tokenDir: list(require('path').dirname(e.GASTOWN_TOKEN_FILE)),
    stateDir: list(e.PROBE_STATE_DIR),
    otherWorkDir: list(e.PROBE_B_WORK_DIR),
    otherEnviron: read('/proc/' + e.PROBE_B_PID + '/environ'),
    otherMem: read('/proc/' + e.PROBE_B_PID + '/mem'),
    serverEnviron: read('/proc/' + e.PROBE_SERVER_PID + '/environ'),
    serverMem: read('/proc/' + e.PROBE_SERVER_PID + '/mem'),
    journal: list(e.PROBE_STATE_DIR + '/journal'),
    credentials: list(e.PROBE_STATE_DIR + '/credentials'),
    processRecords: list(e.PROBE_STATE_DIR + '/processes'),
    agentsRoute: await status('/agents'),
    otherRemint: await status('/local/agents/' + e.PROBE_B_ID + '/remint', { method: 'POST', headers: { authorization: 'Bearer ' + e.GASTOWN_AGENT_NONCE } }),
    ownRemint: await status('/local/agents/' + e.GASTOWN_AGENT_ID + '/remint', { method: 'POST', headers: { authorization: 'Bearer ' + e.GASTOWN_AGENT_NONCE } }),
    secretInEnv: Object.keys(e).filter((k) => /SECRET|CREDENTIAL/.test(k)),
  }));
  process.stdin.resume();
})();
`;
const IDLE = [process.execPath, '-e', 'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))'];

describe('isolation: agents run code written by a model (this server runs as root)', () => {
  const t = useStandInPair({ heartbeatIntervalMs: 60_000 });
  const now = () => Math.floor(Date.now() / 1000);
  const start = async (agentId: string, command: string[], env: Record<string, string> = {}) =>
    t.c.call('POST', '/agents/start', {
      agentId, townId: t.worker.townId, rigId: 'rig-1', role: 'polecat', apiUrl: t.worker.url, command, env,
      token: await signAgentToken(agentId, t.worker.townId, now()), containerCredential: t.worker.credential,
    });

  it('isolation probes: agent A cannot read B\'s token file, B\'s or the server\'s /proc environ and mem, the server\'s files, /agents, or B\'s re-mint; its own token, home and work dir are its own', async () => {
    expect(t.c.control.isolated).toBe(true);
    const b = await start('agent-b', IDLE);
    expect(b.status).toBe(201);
    const tokenFileB = t.c.control.agents.get('agent-b') && join(t.c.stateDir, 'tokens', 'agent-b.jwt');
    const a = await start('agent-a', [process.execPath, '-e', PROBE], {
      PROBE_B_ID: 'agent-b', PROBE_B_PID: String(b.json.pid), PROBE_B_TOKEN_FILE: tokenFileB!, PROBE_B_WORK_DIR: t.c.control.processes.workDirOf('agent-b'),
      PROBE_SERVER_PID: String(process.pid), PROBE_STATE_DIR: t.c.stateDir,
    });
    expect(a.status).toBe(201);
    await until(() => [...t.worker.events.values()].some((e) => (e as { type: string }).type === 'probe'), 10_000, 'the probe report');
    const probe = [...t.worker.events.values()].find((e) => (e as { type: string }).type === 'probe') as Record<string, unknown>;
    const uidA = t.c.control.agents.get('agent-a')!.process.owner!.uid;
    const uidB = t.c.control.agents.get('agent-b')!.process.owner!.uid;
    expect(uidA).not.toBe(uidB);
    expect(probe).toMatchObject({
      uid: uidA,
      groups: [uidA],
      ownToken: 'read',
      ownHome: 'written',
      ownWorkDir: 'written',
      otherToken: 'EACCES',
      tokenDir: 'EACCES',
      stateDir: 'EACCES',
      otherWorkDir: 'EACCES',
      otherEnviron: 'EACCES',
      otherMem: 'EACCES',
      serverEnviron: 'EACCES',
      serverMem: 'EACCES',
      journal: 'EACCES',
      credentials: 'EACCES',
      processRecords: 'EACCES',
      agentsRoute: 401,
      otherRemint: 401,
      ownRemint: 200,
      secretInEnv: [],
    });
  });

  it('ownership on disk: each token file is its agent\'s alone (0600); agent folders 0700 and theirs; the server\'s state root-only', () => {
    const mode = (p: string) => statSync(p).mode & 0o777;
    const owner = (p: string) => statSync(p).uid;
    const uidA = t.c.control.agents.get('agent-a')!.process.owner!.uid;
    const tokenA = join(t.c.stateDir, 'tokens', 'agent-a.jwt');
    expect([owner(tokenA), mode(tokenA)]).toEqual([uidA, 0o600]);
    expect([owner(dirname(tokenA)), mode(dirname(tokenA))]).toEqual([0, 0o711]);
    const work = t.c.control.processes.workDirOf('agent-a');
    expect([owner(work), mode(work)]).toEqual([uidA, 0o700]);
    expect([owner(dirname(work)), mode(dirname(work))]).toEqual([0, 0o711]);
    for (const dir of ['journal', 'credentials', 'processes']) expect([dir, owner(join(t.c.stateDir, dir)), mode(join(t.c.stateDir, dir))]).toEqual([dir, 0, 0o700]);
    expect(mode(join(t.c.stateDir, 'credentials', encodeURIComponent(t.worker.townId)))).toBe(0o600);
  });

  it('an agent\'s uid goes back to the pool only once everything that ran under it is gone', async () => {
    const uidA = t.c.control.agents.get('agent-a')!.process.owner!.uid;
    const held = t.c.control.processes.uidsHeld;
    expect((await t.c.call('POST', '/agents/agent-a/stop')).status).toBe(200);
    expect(t.c.control.processes.uidsHeld).toBe(held - 1);
    const { findProcesses } = await import('../../../container/src/managers/proc.ts');
    expect(findProcesses({ uid: uidA })).toEqual([]);
    await t.c.call('POST', '/agents/agent-b/stop');
  });
});
