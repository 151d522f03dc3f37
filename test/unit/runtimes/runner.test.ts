/**
 * The runner's failure paths, driven from outside: a CLI that cannot start, a turn whose
 * CLI fails, a start without an agent environment. The CLI is replaced through the
 * documented GASTOWN_<CLI>_BIN override with real programs.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GT_BIN_DIR } from '../../../container/src/runtimes/cli-bin.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { RUN_AGENT_FILE } from '../../../container/src/runtimes/index.ts';
import { startAgentFixture, type AgentFixture } from '../plugin/agent-fixture.ts';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';

describe('runner failure paths', () => {
  let f: AgentFixture;
  let agent: AgentProcess | null = null;
  afterEach(async () => {
    agent?.kill();
    agent = null;
    await f?.close();
  });

  it('the CLI gets its own HOME and gt first on PATH, and never the stale GASTOWN_SESSION_TOKEN', async () => {
    f = await startAgentFixture({ role: 'mayor' });
    const dir = mkdtempSync(join(tmpdir(), 'gastown-fake-cli-'));
    const cli = join(dir, 'claude');
    writeFileSync(cli, '#!/bin/sh\nprintf \'{"type":"result","subtype":"success","result":"token=%s home=%s gt=%s"}\\n\' "$GASTOWN_SESSION_TOKEN" "$HOME" "$(command -v gt)"\n');
    chmodSync(cli, 0o755);
    agent = startAgentProcess('claude-code', { ...f.env, GASTOWN_CLAUDE_BIN: cli, GASTOWN_AGENT_HOME: join(dir, 'home') });
    const result = await agent.waitFor((e) => e.type === 'result');
    expect(result.text).toBe(`token= home=${join(dir, 'home')} gt=${join(GT_BIN_DIR, 'gt')}`);
    expect(f.env.GASTOWN_SESSION_TOKEN).toMatch(/^eyJ/);
    expect(await agent.exit).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stand-in `claude` that answers its first message with that message's text, so a test sees what the runner sent. */
  function echoCli(dir: string): string {
    const cli = join(dir, 'claude');
    writeFileSync(cli, `#!${process.execPath}\nrequire('node:readline').createInterface({ input: process.stdin }).once('line', (l) => console.log(JSON.stringify({ type: 'result', subtype: 'success', result: JSON.parse(l).message.content })));\n`);
    chmodSync(cli, 0o755);
    return cli;
  }

  it.each([
    ['answers: the instructions and the first message name the bead with its title', false, 'bead bead-primed ("primed work")'],
    ['cannot answer (token revoked): they name the id the start gave, without a title', true, 'bead bead-42'],
  ])('a polecat whose start names only its bead id asks gt_prime once for its title; when the Worker %s', async (_name, revoke, named) => {
    f = await startAgentFixture({ role: 'polecat' });
    if (revoke) f.worker.revoked.add(f.agentId);
    const dir = mkdtempSync(join(tmpdir(), 'gastown-bead-title-'));
    agent = startAgentProcess('claude-code', { ...f.env, GASTOWN_BEAD_ID: 'bead-42', GASTOWN_CLAUDE_BIN: echoCli(dir), GASTOWN_AGENT_HOME: join(dir, 'home') });
    const result = await agent.waitFor((e) => e.type === 'result');
    expect(result.text).toBe(`Work on ${named}: call gt_prime first, do the work, then gt_done.`);
    expect(readFileSync(join(dir, 'home', '.claude', 'CLAUDE.md'), 'utf8')).toContain(`You are a polecat: you work one bead, ${named}, in your working directory`);
    expect(f.worker.calls.map((c) => c.kind)).toEqual(revoke ? [] : ['tools/gt_prime']);
    expect(await agent.exit).toBe(1);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a CLI that cannot be spawned → a spawn_failed event and exit 127', async () => {
    f = await startAgentFixture({ role: 'mayor' });
    agent = startAgentProcess('claude-code', { ...f.env, GASTOWN_CLAUDE_BIN: '/nonexistent/claude' });
    expect(await agent.exit).toBe(127);
    expect(agent.events).toContainEqual({ type: 'error', code: 'spawn_failed', message: '/nonexistent/claude: ENOENT' });
  });

  it('a per-message turn whose CLI fails → a turn_failed event; the mayor stays up for the next message and exits 0 when its stdin closes', async () => {
    f = await startAgentFixture({ role: 'mayor' });
    agent = startAgentProcess('codex', { ...f.env, GASTOWN_CODEX_BIN: 'false' });
    agent.send('one');
    await agent.waitFor((e) => e.type === 'error' && e.code === 'turn_failed');
    const mark = agent.events.length;
    agent.send('two');
    await agent.waitFor((e) => e.type === 'error' && e.code === 'turn_failed', 30_000, mark);
    agent.closeStdin();
    expect(await agent.exit).toBe(0);
  });

  it('stdin closed at once (the control server gone, maybe while the files are written) → the mayor exits 0, never hangs', async () => {
    f = await startAgentFixture({ role: 'mayor' });
    agent = startAgentProcess('opencode', { ...f.env, GASTOWN_OPENCODE_BIN: 'false' });
    agent.send('too late');
    agent.closeStdin();
    expect(await agent.exit).toBe(0);
  });

  it('a polecat whose only turn fails exits with the CLI code, not 0', async () => {
    f = await startAgentFixture({ role: 'polecat' });
    agent = startAgentProcess('opencode', { ...f.env, GASTOWN_BEAD_ID: 'b', GASTOWN_OPENCODE_BIN: 'false' });
    expect(await agent.exit).toBe(1);
    expect(agent.events).toContainEqual({ type: 'error', code: 'turn_failed', exitCode: 1 });
  });

  it.each([
    ['opencode', 'GASTOWN_OPENCODE_CONFIG', '{"model": "anthropic/secret-model"', 'GASTOWN_OPENCODE_CONFIG is not valid JSON'],
    ['opencode', 'GASTOWN_OPENCODE_CONFIG', '"anthropic/secret-model"', 'GASTOWN_OPENCODE_CONFIG must be a JSON object'],
    ['codex', 'GASTOWN_CODEX_CONFIG', '   ', 'GASTOWN_CODEX_CONFIG is empty'],
  ] as const)('%s with a %s it cannot use → one bad_config event naming it (never the value), exit 2, no stack, the CLI never started', async (runtime, name, value, message) => {
    f = await startAgentFixture({ role: 'polecat' });
    // a CLI that would leave a mark if it ran
    const dir = mkdtempSync(join(tmpdir(), 'gastown-bad-config-'));
    const mark = join(dir, 'ran');
    const cli = join(dir, 'cli');
    writeFileSync(cli, `#!/bin/sh\ntouch ${mark}\n`);
    chmodSync(cli, 0o755);
    agent = startAgentProcess(runtime, { ...f.env, GASTOWN_BEAD_ID: 'b', [name]: value, GASTOWN_OPENCODE_BIN: cli, GASTOWN_CODEX_BIN: cli });
    expect(await agent.exit).toBe(2);
    expect(agent.events).toEqual([{ type: 'error', code: 'bad_config', message }]);
    expect(agent.stderr.join('\n')).not.toMatch(/\bat |secret-model/);
    expect(existsSync(mark)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('without an agent environment, or for an unknown runtime, the runner exits 2 with a JSON error', () => {
    const bare = spawnSync(process.execPath, [RUN_AGENT_FILE, 'codex'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(bare.status).toBe(2);
    expect(JSON.parse(bare.stdout)).toMatchObject({ type: 'error', code: 'not_configured', message: expect.stringMatching(/GASTOWN_/) });
    const unknown = spawnSync(process.execPath, [RUN_AGENT_FILE, 'vim'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(unknown.status).toBe(2);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ type: 'error', code: 'usage' });
  });
});
