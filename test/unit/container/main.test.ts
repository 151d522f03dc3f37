import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { alive, CONTROL_SECRET, IDLE_COMMAND, until } from './harness.ts';
import { mainEnv, runMain } from './main-process.ts';
import { signAgentToken, startStandInWorker } from './stand-in-worker.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});
const stateDirFor = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `gastown-${name}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};
const startBody = async (agentId: string, command: string[]) => ({
  agentId, townId: 'town-main', rigId: null, role: 'polecat', apiUrl: 'http://127.0.0.1:9', command,
  token: await signAgentToken(agentId, 'town-main', Math.floor(Date.now() / 1000)),
});
/** An agent that forks a grandchild, reports its pid, and runs on whatever happens to its stdin. */
const STUBBORN = [process.execPath, '-e', `const g = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(JSON.stringify({ type: 'grandchild', pid: g.pid })); setInterval(() => {}, 1000);`];

describe('node container/src/main.ts', () => {
  it('refuses to start without CONTAINER_CONTROL_SECRET', async () => {
    const p = runMain({ PORT: '0' });
    expect(await p.exited).toBe(1);
    expect(p.lines.join('\n')).toMatch(/CONTAINER_CONTROL_SECRET/);
  });

  it('as root, refuses to start where isolated agents could not reach their folders (a parent no other uid can pass), naming it', async () => {
    const closed = stateDirFor('closed'); // mkdtemp: 0700, owned by root
    const p = runMain(mainEnv(join(closed, 'control')));
    expect(await p.exited).toBe(1);
    expect(p.lines.join('\n')).toContain(`${closed} is not traversable by other users`);
  });

  it('listens on 127.0.0.1 unless HOST says otherwise; on SIGTERM ends its agents and exits 0, never printing a secret or token', async () => {
    const p = runMain(mainEnv(stateDirFor('main')));
    cleanup.push(() => p.child.kill('SIGKILL'));
    await p.listening();
    expect(JSON.parse(await p.line(/listening/))).toMatchObject({ host: '127.0.0.1', isolated: true });
    const body = await startBody('main-agent', IDLE_COMMAND);
    const started = await p.call('POST', '/agents/start', body);
    expect(started.status).toBe(201);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    expect(alive(started.json.pid)).toBe(false);
    expect(p.lines.join('\n')).not.toContain(CONTROL_SECRET);
    expect(p.lines.join('\n')).not.toContain(body.token);
  });

  it('shutdown: once SIGTERM arrives, POST /agents/start is refused with 503 shutting_down', async () => {
    const worker = await startStandInWorker('town-main');
    cleanup.push(() => worker.close());
    const p = runMain(mainEnv(stateDirFor('shutdown')));
    cleanup.push(() => p.child.kill('SIGKILL'));
    await p.listening();
    // an agent that ignores SIGTERM keeps the shutdown going for the kill grace period
    const deaf = [process.execPath, '-e', 'process.on("SIGTERM", () => {}); console.log(JSON.stringify({ type: "deaf" })); setInterval(() => {}, 1000)'];
    expect((await p.call('POST', '/agents/start', { ...(await startBody('deaf', deaf)), apiUrl: worker.url })).status).toBe(201);
    await until(() => worker.events.size > 0, 10_000, 'the agent ready (SIGTERM ignored)');
    p.child.kill('SIGTERM');
    await p.line(/shutting down/);
    const refused = await p.call('POST', '/agents/start', await startBody('late', IDLE_COMMAND));
    expect(refused).toEqual({ status: 503, json: { error: { code: 'shutting_down', message: expect.any(String) } } });
    expect(await p.exited).toBe(0);
  });

  it('leftover agents: a restarted server SIGKILLs the process groups its killed predecessor recorded, and leaves a reused pid alone', async () => {
    const stateDir = stateDirFor('leftover');
    const first = runMain(mainEnv(stateDir));
    cleanup.push(() => first.child.kill('SIGKILL'));
    await first.listening();
    const a = await first.call('POST', '/agents/start', await startBody('left-a', STUBBORN));
    const b = await first.call('POST', '/agents/start', await startBody('left-b', STUBBORN));
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(readdirSync(join(stateDir, 'processes')).sort()).toEqual(['left-a.json', 'left-b.json']);
    // a record whose pid now belongs to an unrelated process (another start time): pid reuse is not a match
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
    cleanup.push(() => bystander.kill('SIGKILL'));
    writeFileSync(join(stateDir, 'processes', 'reused.json'), JSON.stringify({ agentId: 'reused', pid: bystander.pid, pgid: bystander.pid, startTime: '1', uid: null }));
    first.child.kill('SIGKILL');
    await first.exited;
    expect([alive(a.json.pid), alive(b.json.pid)]).toEqual([true, true]);
    const second = runMain(mainEnv(stateDir));
    cleanup.push(() => second.child.kill('SIGKILL'));
    await second.listening();
    await until(() => !alive(a.json.pid) && !alive(b.json.pid), 5_000, 'the leftover agents to be ended');
    expect(alive(bystander.pid!)).toBe(true);
    expect(readdirSync(join(stateDir, 'processes'))).toEqual([]);
    expect((await second.call('GET', '/stats')).json.leftoverAgentsEnded).toBe(2);
    expect(second.lines.filter((l) => l.includes('ended an agent a previous control server left running'))).toHaveLength(2);
  });

  it('leftover group of a dead leader (agents under the server\'s uid): a restarted server kills the members its killed predecessor\'s agent left in its group', async () => {
    const stateDir = stateDirFor('orphans');
    const env = mainEnv(stateDir, { GASTOWN_ISOLATION: 'off' });
    const first = runMain(env);
    cleanup.push(() => first.child.kill('SIGKILL'));
    await first.listening();
    // the leader forks a grandchild into its own group, then exits when its stdin closes (its server died)
    const leaderExitsOnEof = [process.execPath, '-e', `const g = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(JSON.stringify({ type: 'grandchild', pid: g.pid })); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`];
    const worker = await startStandInWorker('town-main');
    cleanup.push(() => worker.close());
    const leader = await first.call('POST', '/agents/start', { ...(await startBody('orphaner', leaderExitsOnEof)), apiUrl: worker.url });
    expect(leader.status).toBe(201);
    await until(() => [...worker.events.values()].some((e) => (e as { type: string }).type === 'grandchild'), 10_000, 'the grandchild reported');
    const grandchild = ([...worker.events.values()].find((e) => (e as { type: string }).type === 'grandchild') as { pid: number }).pid;
    cleanup.push(() => process.kill(grandchild, 'SIGKILL'));
    first.child.kill('SIGKILL');
    await first.exited;
    // gone for good (reaped), so only its group's members are left
    await until(() => !existsSync(`/proc/${leader.json.pid}`), 5_000, 'the leader to exit on EOF and be reaped');
    expect(alive(grandchild)).toBe(true);
    const second = runMain(env);
    cleanup.push(() => second.child.kill('SIGKILL'));
    await second.listening();
    await until(() => !alive(grandchild), 5_000, 'the grandchild to be ended');
    expect((await second.call('GET', '/stats')).json.leftoverAgentsEnded).toBe(1);
  });

  it('leftover group, pgid not ours: members that started before the recorded leader (another group under a reused number) are left alone', async () => {
    const stateDir = stateDirFor('older-group');
    // a group whose leader has gone, its member still running
    const leader = spawn(process.execPath, ['-e', `const g = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); g.unref(); console.log(g.pid);`], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    const member = Number(await new Promise<string>((r) => leader.stdout!.once('data', (d) => r(String(d)))));
    cleanup.push(() => process.kill(member, 'SIGKILL'));
    await new Promise((r) => leader.once('exit', r));
    mkdirSync(join(stateDir, 'processes'), { recursive: true });
    // recorded as if the agent started after that member: never the same group
    writeFileSync(join(stateDir, 'processes', 'later.json'), JSON.stringify({ agentId: 'later', pid: leader.pid, pgid: leader.pid, startTime: String(Number.MAX_SAFE_INTEGER), uid: null }));
    const p = runMain(mainEnv(stateDir, { GASTOWN_ISOLATION: 'off' }));
    cleanup.push(() => p.child.kill('SIGKILL'));
    await p.listening();
    expect((await p.call('GET', '/stats')).json.leftoverAgentsEnded).toBe(0);
    expect(alive(member)).toBe(true);
  });

  it('not root: logs once, clearly, that agents are NOT isolated and why, and runs them under its own uid', async () => {
    const stateDir = stateDirFor('nonroot');
    chownSync(stateDir, 65534, 65534);
    const p = runMain(mainEnv(stateDir), { uid: 65534, gid: 65534 });
    cleanup.push(() => p.child.kill('SIGKILL'));
    await p.listening();
    const warning = JSON.parse(await p.line(/NOT isolated/));
    expect(warning.why).toMatch(/uid 65534, not root/);
    expect(p.lines.filter((l) => l.includes('NOT isolated'))).toHaveLength(1);
    const stats = (await p.call('GET', '/stats')).json;
    expect(stats.isolated).toBe(false);
    const started = await p.call('POST', '/agents/start', await startBody('shared-uid', IDLE_COMMAND));
    expect(started.status).toBe(201);
    expect(readdirSync(stateDir)).not.toContain('credentials');
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });
});
