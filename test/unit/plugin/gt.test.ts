import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GT_EXIT } from '../../../container/plugin/gt.ts';
import { signAgentToken } from '../container/stand-in-worker.ts';
import { startAgentFixture, writeTokenFile, type AgentFixture } from './agent-fixture.ts';

const GT = fileURLToPath(new URL('../../../container/bin/gt', import.meta.url));

/** Runs the real `gt` shim as a subprocess with the agent environment (plus `extra`). */
function gt(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(GT, args, { env: { PATH: process.env.PATH ?? '', GASTOWN_NODE: process.execPath, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('gt as a subprocess', () => {
  let f: AgentFixture;
  beforeAll(async () => {
    f = await startAgentFixture({ role: 'polecat' });
  });
  afterAll(() => f?.close());
  afterEach(() => {
    f.worker.minIat = 0;
    f.worker.revoked.clear();
  });

  const COMMANDS: Array<[string[], string, Record<string, unknown>, RegExp]> = [
    [['status'], 'gt_status', {}, /^agent agent-1 \(polecat, working\)\nno bead\n$/],
    [['prime'], 'gt_prime', {}, /bead bead-primed: primed work \[assigned\]/],
    [['bead', 'create', '--title', 'Fix login', '--body', 'it must log in', '--rig', 'rig-2'], 'gt_bead_create', { title: 'Fix login', body: 'it must log in', rigId: 'rig-2' }, /^created bead bead-\d+: Fix login \[open\]\n$/],
    [['sling', 'bead-9'], 'gt_sling', { beadId: 'bead-9' }, /^slung bead-9 to polecat-for-bead-9\n$/],
    [['done', '--summary', 'all green'], 'gt_done', { summary: 'all green' }, /^no bead\n$/],
    [['mail', 'send', '--to', 'mayor', '--body', 'hi', '--subject', 'q'], 'gt_mail_send', { to: 'mayor', body: 'hi', subject: 'q' }, /^sent/],
    [['mail', 'check', '--ack', 'mail-1', 'mail-2'], 'gt_mail_check', { ack: ['mail-1', 'mail-2'] }, /^no mail\n$/],
    [['review', 'bead-9', 'rejected', '--summary', 'tests fail'], 'gt_review_complete', { beadId: 'bead-9', outcome: 'rejected', summary: 'tests fail' }, /^no bead\n$/],
  ];

  it.each(COMMANDS)('gt %j calls its tool with the arguments given, prints text, exits 0', async (args, tool, body, text) => {
    const before = f.worker.calls.length;
    const r = await gt(args, f.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(GT_EXIT.ok);
    expect(r.stdout).toMatch(text);
    expect(f.worker.calls.slice(before)).toEqual([{ kind: `tools/${tool}`, pathAgent: f.agentId, body }]);
  });

  it('--json prints the Worker JSON', async () => {
    f.worker.mailbox.set(f.agentId, [{ id: 'mail-5', from: 'mayor', subject: 'review', body: 'look', beadId: 'b' }]);
    const r = await gt(['mail', 'check', '--json'], f.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, mail: [{ id: 'mail-5', from: 'mayor', subject: 'review', body: 'look', beadId: 'b' }] });
  });

  it('an expired token is healed by one re-mint (exit 0)', async () => {
    f.worker.minIat = Math.floor(Date.now() / 1000) + 1;
    const before = f.control.remints;
    const r = await gt(['status', '--json'], f.env);
    expect(r.code).toBe(GT_EXIT.ok);
    expect(f.control.remints).toBe(before + 1);
  });

  it('bad usage exits 2 and sends nothing: unknown command, missing option, bad choice, schema violation', async () => {
    const before = f.worker.calls.length;
    expect((await gt(['fly'], f.env)).code).toBe(GT_EXIT.usage);
    expect((await gt(['bead', 'create'], f.env)).code).toBe(GT_EXIT.usage);
    expect((await gt(['review', 'b', 'maybe'], f.env)).code).toBe(GT_EXIT.usage);
    const blank = await gt(['bead', 'create', '--title', '   ', '--json'], f.env);
    expect(blank.code).toBe(GT_EXIT.usage);
    expect(JSON.parse(blank.stdout)).toMatchObject({ error: { code: 'usage', message: expect.stringMatching(/title/) } });
    expect(f.worker.calls.length).toBe(before);
  });

  it('a call the Worker refuses (403: a token of another agent) exits 1 with status and code', async () => {
    const stranger = await signAgentToken('someone-else', f.townId, Math.floor(Date.now() / 1000));
    const otherFile = `${f.dir}/other.jwt`;
    writeTokenFile(otherFile, stranger);
    const r = await gt(['status', '--json'], { ...f.env, GASTOWN_TOKEN_FILE: otherFile });
    expect(r.code).toBe(GT_EXIT.refused);
    expect(JSON.parse(r.stdout)).toEqual({ error: { status: 403, code: 'forbidden', message: 'gt_status failed: 403 forbidden' } });
  });

  it('a revoked agent exits 3 (not authorised after the re-read and re-mint), never printing the token', async () => {
    f.worker.revoked.add(f.agentId);
    const r = await gt(['done'], f.env);
    expect(r.code).toBe(GT_EXIT.unauthorized);
    expect(r.stderr).toBe('gt: gt_done failed: 401 token_revoked\n');
    expect(r.stdout + r.stderr).not.toMatch(/eyJ/);
  });

  it('an unreachable Worker exits 4', async () => {
    const r = await gt(['status'], { ...f.env, GASTOWN_API_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(GT_EXIT.unreachable);
    expect(r.stderr).toMatch(/unreachable/);
  });

  it('outside an agent environment exits 5, naming the missing variable', async () => {
    const r = await gt(['status'], {});
    expect(r.code).toBe(GT_EXIT.notConfigured);
    expect(r.stderr).toMatch(/GASTOWN_API_URL is not set/);
  });
});
