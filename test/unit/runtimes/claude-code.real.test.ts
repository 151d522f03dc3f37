/**
 * Real `claude` (the pinned CLI) run as the control server would run it (agentCommand →
 * the runner), against the scripted model, the real Gastown MCP server and a stand-in
 * Worker that verifies tokens. Runs as root with --allowedTools (no permission bypass).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAYOR_SCRIPT, POLECAT_SCRIPT, REFINERY_SCRIPT, startScriptedModel, type Script, type ScriptedModel } from '../../support/scripted-model.ts';
import { startAgentFixture, type AgentFixture } from '../plugin/agent-fixture.ts';
import { startAgentProcess, type AgentProcess } from './agent-process.ts';

describe('claude-code runtime with the real claude CLI', () => {
  let f: AgentFixture;
  let model: ScriptedModel;
  let agent: AgentProcess | null = null;

  async function start(role: string, script: Script, extraEnv: Record<string, string> = {}) {
    f = await startAgentFixture({ role, agentId: `${role}-1` });
    model = await startScriptedModel(script);
    agent = startAgentProcess('claude-code', { ...f.env, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'sk-scripted', ...extraEnv });
    return agent;
  }
  const toolEvents = (a: AgentProcess) => a.events.filter((e) => e.type === 'tool').map((e) => [e.phase, e.name, e.ok ?? null]);

  beforeEach(() => {
    agent = null;
  });
  afterEach(async () => {
    agent?.kill();
    await model?.close();
    await f?.close();
  });

  it('mayor: a user message → gt_bead_create and gt_sling through MCP, a plain-text reply; survives a token refresh and a forced 401 between messages', async () => {
    const a = await start('mayor', MAYOR_SCRIPT);
    a.send('Fix the login page');
    const reply = await a.waitFor((e) => e.type === 'reply' && /Filed/.test(String(e.text)));
    expect(reply.text).toBe('Filed bead-1 and handed it to polecat-for-bead-1.');
    await a.waitFor((e) => e.type === 'result');
    expect(a.events[0]).toMatchObject({ type: 'session', runtime: 'claude-code', mcpServers: [{ name: 'gastown', status: 'connected' }] });
    expect(toolEvents(a)).toEqual([['call', 'gt_bead_create', null], ['result', 'gt_bead_create', true], ['call', 'gt_sling', null], ['result', 'gt_sling', true]]);
    expect(a.events.find((e) => e.type === 'result')).toMatchObject({ ok: true, subtype: 'success', text: 'Filed bead-1 and handed it to polecat-for-bead-1.' });
    expect(f.worker.calls.map((c) => [c.kind, c.body])).toEqual([
      ['tools/gt_bead_create', { title: 'Fix the login page', body: 'Fix the login page' }],
      ['tools/gt_sling', { beadId: 'bead-1' }],
    ]);
    // the model saw results for the tool_use ids it issued, and the role instructions
    expect(model.unknownToolResults).toBe(0);
    expect(model.requests.filter((r) => !r.side).map((r) => r.toolResults.length)).toEqual([0, 1, 1]);
    expect(model.requests.find((r) => !r.side)!.raw).toMatch(/You are the mayor/);

    // the token file is refreshed, then everything issued before now is refused as expired
    const now = Math.floor(Date.now() / 1000);
    await f.writeToken(now - 10);
    f.worker.minIat = now + 1;
    const mark = a.events.length;
    a.send('Add a logout button');
    await a.waitFor((e) => e.type === 'result', 60_000, mark);
    expect(a.events.slice(mark).filter((e) => e.type === 'tool' && e.phase === 'result').map((e) => e.ok)).toEqual([true, true]);
    expect(f.control.remints).toBe(1);
    expect(f.worker.calls.slice(2).map((c) => c.kind)).toEqual(['tools/gt_bead_create', 'tools/gt_sling']);

    a.closeStdin();
    expect(await a.exit).toBe(0);
  });

  it('polecat: starts on its own, gt_prime then gt_done, its stdin closed after the turn → exits 0', async () => {
    const a = await start('polecat', POLECAT_SCRIPT, { GASTOWN_BEAD_ID: 'bead-primed' });
    expect(await a.exit).toBe(0);
    expect(toolEvents(a)).toEqual([['call', 'gt_prime', null], ['result', 'gt_prime', true], ['call', 'gt_done', null], ['result', 'gt_done', true]]);
    expect(a.events.filter((e) => e.type === 'assistant').map((e) => e.text)).toEqual(['Done: reported my bead finished.']);
    // the runner's own gt_prime at start (the bead's title), then the model's
    expect(f.worker.calls.map((c) => c.kind)).toEqual(['tools/gt_prime', 'tools/gt_prime', 'tools/gt_done']);
    const first = model.requests.find((r) => !r.side)!;
    expect(first.userText).toMatch(/Work on bead bead-primed \("primed work"\)/);
    expect(first.raw).toMatch(/You are a polecat: you work one bead, bead bead-primed \(\\"primed work\\"\)/);
  });

  it('polecat whose gt_done is refused (revoked) exits 1: its bead is not done', async () => {
    const script: Script = [{ tool: 'gt_prime' }, { tool: 'gt_done' }, { text: 'Gave up.' }];
    const a = await start('polecat', script, { GASTOWN_BEAD_ID: 'bead-43' });
    await a.waitFor((e) => e.type === 'tool' && e.name === 'gt_prime' && e.phase === 'result');
    f.worker.revoked.add(f.agentId);
    expect(await a.exit).toBe(1);
    expect(a.events.find((e) => e.type === 'tool' && e.name === 'gt_done' && e.phase === 'result')).toMatchObject({ ok: false, output: expect.stringMatching(/token_revoked/) });
    expect(a.events.at(-1)).toMatchObject({ type: 'error', code: 'not_done' });
  });

  it.each([
    ['works: exits 0', false, 0],
    ['is refused (revoked; gt exits 3): exits 1', true, 1],
  ])('polecat using gt from its Bash tool (container/bin on PATH): gt prime, gt done; when gt done %s', async (_name, revoke, exitCode) => {
    const script: Script = [
      { tool: 'Bash', input: { command: 'gt prime --json', description: 'Prime from the shell' } },
      { tool: 'Bash', input: { command: 'gt done --summary "from the shell"', description: 'Report done' } },
      { text: 'Done.' },
    ];
    const a = await start('polecat', script, { GASTOWN_BEAD_ID: 'bead-44' });
    if (revoke) {
      await a.waitFor((e) => e.type === 'tool' && e.phase === 'result' && e.ok === true);
      f.worker.revoked.add(f.agentId);
    }
    expect(await a.exit).toBe(exitCode);
    const results = a.events.filter((e) => e.type === 'tool' && e.phase === 'result');
    expect(JSON.parse(String(results[0]!.output))).toMatchObject({ ok: true, bead: { id: 'bead-primed' } });
    expect(results.map((e) => e.ok)).toEqual([true, !revoke]);
    // the runner's own gt_prime at start, then the shell's
    expect(f.worker.calls.map((c) => [c.kind, c.body])).toEqual([['tools/gt_prime', {}], ['tools/gt_prime', {}], ...(revoke ? [] : [['tools/gt_done', { summary: 'from the shell' }]])]);
  });

  it('refinery: idle after its first turn, woken by review mail → gt_review_complete, then acknowledges it', async () => {
    const a = await start('refinery', REFINERY_SCRIPT, { GASTOWN_REFINERY_POLL_MS: '100' });
    await a.waitFor((e) => e.type === 'assistant' && e.text === 'No review requests.');
    f.worker.mailbox.set(f.agentId, [{ id: 'mail-7', from: 'polecat-1', subject: 'review', body: 'Please review Fix login', beadId: 'bead-7' }]);
    await a.waitFor((e) => e.type === 'assistant' && e.text === 'Reviewed and merged.');
    const review = f.worker.calls.find((c) => c.kind === 'tools/gt_review_complete');
    expect(review?.body).toEqual({ beadId: 'bead-7', outcome: 'merged', summary: 'looks right' });
    expect(f.worker.calls.filter((c) => c.kind === 'tools/gt_mail_check').at(-1)?.body).toEqual({ ack: ['mail-7'] });
    a.closeStdin();
    expect(await a.exit).toBe(0);
  });
});
