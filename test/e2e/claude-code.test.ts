import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFINERY_SCRIPT, lastResult, polecatScript, startScriptedModel, type Script, type ScriptedModel } from '../support/scripted-model.ts';
import { eventually, startTownFixture, type TownFixture } from './local-town-fixture.ts';

const TTL_SECONDS = 20;
const LIFETIMES = 5;
const WORK_FILE = 'LOGIN_FIX.md';
const WORK_TEXT = 'The login bug is fixed: the session cookie is set before the redirect.\n';

/** What the polecat's work left on disk, read by the model while the polecat waited for its next step. */
const onDisk: { path?: string; text?: string } = {};

/**
 * The polecat works with Claude Code's own tools in its working directory: where it is
 * (Bash), a file (Write), the file read back (Bash); then gt_done.
 */
const POLECAT = polecatScript([
  { tool: 'Bash', input: { command: 'pwd', description: 'Show the working directory' } },
  { tool: 'Write', input: (ctx) => ({ file_path: join(ctx.results.at(-1)!.text.trim(), WORK_FILE), content: WORK_TEXT }) },
  (ctx) => {
    onDisk.path = join(ctx.results[1]!.text.trim(), WORK_FILE);
    onDisk.text = readFileSync(onDisk.path, 'utf8');
    return { tool: 'Bash', input: { command: `cat ${WORK_FILE}`, description: 'Check the file' } };
  },
]);

/** The mayor files and slings what the user asks for; asked for its status, it checks and answers. */
const MAYOR: Script = [
  (ctx) =>
    ctx.userText.startsWith('status')
      ? { tool: 'gt_status' }
      : { tool: 'gt_bead_create', input: { title: ctx.userText.trim().slice(0, 80), body: ctx.userText }, say: 'Filing that as a bead.' },
  (ctx) =>
    ctx.userText.startsWith('status')
      ? { text: `Status: I am ${lastResult<{ agent: { status: string } }>(ctx)?.agent.status ?? 'unknown'}.` }
      : { tool: 'gt_sling', input: { beadId: lastResult<{ bead: { id: string } }>(ctx)?.bead.id ?? 'unknown' } },
  (ctx) => {
    const slung = lastResult<{ bead: { id: string }; agentId: string }>(ctx);
    return { text: slung ? `Filed ${slung.bead.id} and handed it to ${slung.agentId}.` : 'I could not hand that out.' };
  },
];

/** Each agent's role, from the instructions Claude Code carries in its requests. */
function scriptFor({ raw }: { raw: string }): Script {
  if (raw.includes('You are the mayor')) return MAYOR;
  if (raw.includes('You are the refinery')) return REFINERY_SCRIPT;
  return POLECAT;
}

/**
 * Real coding agents, end to end: the mayor, the polecat and the refinery are real Claude
 * Code processes (the pinned npm package, each under a uid of its own) driven by a scripted
 * model, calling Gastown through the MCP server, in a real local town (wrangler dev + the
 * control server) with 20 s tokens, for more than five token lifetimes. The polecat works
 * with Claude Code's own Bash and Write tools in its working directory before gt_done.
 */
describe('a town of Claude Code agents', () => {
  let f: TownFixture;
  let model: ScriptedModel;
  let townId: string;

  beforeAll(async () => {
    model = await startScriptedModel(scriptFor);
    f = await startTownFixture({ vars: { AGENT_TOKEN_TTL_SECONDS: String(TTL_SECONDS), TOKEN_REFRESH_INTERVAL_SECONDS: '5' }, controlEnv: { GASTOWN_REFINERY_POLL_MS: '1000' } });
    townId = (await f.api.createTown('claude')).id;
    await f.api.createRig(townId, 'main');
    const settings = await f.api.ok('PUT', `/api/towns/${townId}/settings`, { runtime: 'claude-code', agentEnv: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'sk-scripted-model' } });
    expect(settings).toEqual({ runtime: 'claude-code', agentEnvNames: ['ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'] });
  });
  afterAll(async () => {
    await f?.close();
    await model?.close();
  });

  it('the mayor files and slings a bead, a polecat does it, the refinery merges it; every tool call succeeds across five token lifetimes', async () => {
    const started = Date.now();
    const conversation = async () => (await f.api.ok<{ messages: Array<{ from: string; text: string }> }>('GET', `/api/towns/${townId}/mayor/messages`)).messages;
    const sent = await f.api.tellMayor(townId, 'fix the login bug');
    expect(sent.agentId).toMatch(/^mayor-/);
    const filed = await eventually(async () => (await conversation()).find((m) => m.from === 'mayor' && m.text.startsWith('Filed')), 60_000, 'the mayor to reply');
    const [, beadId, polecatId] = /^Filed (\S+) and handed it to (\S+)\.$/.exec(filed.text)!;

    const closed = await eventually(async () => {
      const view = await f.api.town(townId);
      return view.beads.find((b: { id: string; status: string }) => b.id === beadId && b.status === 'closed');
    }, 90_000, 'the refinery to merge the bead');
    expect(closed).toMatchObject({ assignee: polecatId });

    // the mayor lives on: asked for its status every 20 s (each answered before the next), past five token lifetimes
    let asked = 0;
    while (Date.now() - started < (LIFETIMES * TTL_SECONDS + 5) * 1000) {
      await new Promise((r) => setTimeout(r, TTL_SECONDS * 1000));
      const before = (await conversation()).filter((m) => m.from === 'mayor').length;
      await f.api.tellMayor(townId, `status ${++asked}`);
      await eventually(async () => (await conversation()).filter((m) => m.from === 'mayor').length > before, 60_000, `the mayor to answer status ${asked}`);
    }
    const said = (await conversation()).filter((m) => m.from === 'mayor').map((m) => m.text);
    // what the mayor said while it worked is part of the conversation too
    expect(said).toEqual(['Filing that as a bead.', filed.text, ...Array.from({ length: asked }, () => expect.stringMatching(/^Status: I am (working|idle)\.$/))]);
    const view = await f.api.town(townId);
    const mayor = view.agents.find((a: { role: string }) => a.role === 'mayor');
    const polecat = view.agents.find((a: { id: string }) => a.id === polecatId);
    const refinery = view.agents.find((a: { role: string }) => a.role === 'refinery');
    expect(view.agents.every((a: { runtime: string }) => a.runtime === 'claude-code')).toBe(true);
    expect(Date.now() - Date.parse(mayor.startedAt)).toBeGreaterThan(LIFETIMES * TTL_SECONDS * 1000);
    expect(mayor.refreshCount).toBeGreaterThanOrEqual(LIFETIMES * 2);
    expect(polecat).toMatchObject({ status: 'exited' });
    expect(refinery.status).not.toBe('failed');

    // every Gastown tool call through MCP succeeded, for every agent
    const calls: Array<{ agent: string; name: string; ok: boolean }> = [];
    for (const agent of view.agents) {
      const { events } = await f.api.ok('GET', `/api/towns/${townId}/agents/${agent.id}/events?limit=1000`);
      for (const e of events) if (e.type === 'tool' && e.phase === 'result' && String(e.name).startsWith('gt_')) calls.push({ agent: agent.role, name: e.name, ok: e.ok });
    }
    expect(calls.filter((c) => !c.ok)).toEqual([]);
    for (const tool of ['gt_bead_create', 'gt_sling', 'gt_status', 'gt_prime', 'gt_done', 'gt_mail_check', 'gt_review_complete']) {
      expect(calls.map((c) => c.name), tool).toContain(tool);
    }
    // the polecat did its work with Claude Code's own tools in its own working directory: the file was there, with its content
    const work = (await f.api.ok('GET', `/api/towns/${townId}/agents/${polecatId}/events?limit=1000`)).events
      .filter((e: { type: string; phase?: string; name?: string }) => e.type === 'tool' && e.phase === 'result' && !String(e.name).startsWith('gt_'))
      .reverse(); // listed newest first
    expect(work.map((e: { name: string; ok: boolean }) => [e.name, e.ok])).toEqual([['Bash', true], ['Write', true], ['Bash', true]]);
    // its instructions named the bead with the title the mayor gave it (asked of the real Worker at start)
    expect(model.requests.some((r) => r.raw.includes(`You are a polecat: you work one bead, bead ${beadId} (\\"fix the login bug\\")`))).toBe(true);
    const workDir = join(f.stateDir, 'control', 'work', encodeURIComponent(polecatId!));
    expect(work[0].output.trim()).toBe(workDir);
    expect(onDisk).toEqual({ path: join(workDir, WORK_FILE), text: WORK_TEXT });
    expect(work[2].output.trim()).toBe(WORK_TEXT.trim());
    // 0 401/403 anywhere: at the Worker, at the control server; the model saw only answers to its own tool calls
    // (the Worker's log was read: every tool call above is one of its requests, so "no 401/403" is not vacuous)
    expect(f.worker.counts.total).toBeGreaterThan(0);
    expect(f.worker.counts.total).toBeGreaterThanOrEqual(calls.length);
    expect(f.worker.counts.denied).toEqual([]);
    const stats = await f.controlStats();
    expect(stats.responses['401_expired'] + stats.responses['401_revoked'] + stats.responses['401_other'] + stats.responses['403']).toBe(0);
    expect(model.unknownToolResults).toBe(0);
  });
});
