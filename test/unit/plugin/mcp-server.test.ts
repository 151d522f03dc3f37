import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TOOL_DEFINITIONS, TOOL_NAMES, type ToolName } from '../../../container/plugin/tool-definitions.ts';
import { startAgentFixture, type AgentFixture } from './agent-fixture.ts';

const MCP_SERVER = fileURLToPath(new URL('../../../container/plugin/mcp-server.ts', import.meta.url));

/** A real MCP client over stdio, spawning the real server with `env`. */
async function connect(env: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'gastown-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [MCP_SERVER], env: { PATH: process.env.PATH ?? '', ...env }, stderr: 'pipe' }));
  return client;
}

function textOf(result: { content?: unknown }): string {
  const content = result.content as Array<{ type: string; text?: string }>;
  expect(content).toHaveLength(1);
  expect(content[0]!.type).toBe('text');
  return content[0]!.text!;
}

const SAMPLE_ARGS: Record<ToolName, Record<string, unknown>> = {
  gt_status: {},
  gt_prime: {},
  gt_bead_create: { title: 'Fix the login page', body: 'done when it logs in', rigId: 'rig-1' },
  gt_sling: { beadId: 'bead-7' },
  gt_done: { summary: 'fixed it' },
  gt_mail_send: { to: 'mayor', subject: 'hello', body: 'a question' },
  gt_mail_check: { ack: ['mail-1'] },
  gt_review_complete: { beadId: 'bead-7', outcome: 'merged', summary: 'looks good' },
};

describe('Gastown MCP server over stdio', () => {
  let f: AgentFixture;
  let client: Client;
  beforeAll(async () => {
    f = await startAgentFixture({ role: 'polecat' });
    client = await connect(f.env);
  });
  afterAll(async () => {
    await client?.close();
    await f?.close();
  });
  afterEach(() => {
    f.worker.minIat = 0;
    f.worker.revoked.clear();
  });

  it('lists every tool of the definitions, with its description and input schema', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    for (const tool of tools) {
      const definition = TOOL_DEFINITIONS[tool.name as ToolName];
      expect(tool.description).toBe(definition.description);
      const expected = z.toJSONSchema(definition.input, { io: 'input' }) as { properties?: Record<string, unknown>; required?: string[] };
      expect(tool.inputSchema.type).toBe('object');
      expect(Object.keys(tool.inputSchema.properties ?? {}).sort()).toEqual(Object.keys(expected.properties ?? {}).sort());
      expect([...(tool.inputSchema.required ?? [])].sort()).toEqual([...(expected.required ?? [])].sort());
      expect(tool.annotations?.readOnlyHint).toBe(!definition.mutates);
    }
    // gt_mail_check's ack marks mail handled: a client must not treat it as read-only
    expect(tools.filter((t) => t.annotations?.readOnlyHint).map((t) => t.name).sort()).toEqual(['gt_prime', 'gt_status']);
    const create = tools.find((t) => t.name === 'gt_bead_create')!;
    expect((create.inputSchema.properties as Record<string, { description?: string }>).title!.description).toBe('A short, specific title');
  });

  it('calls each tool at its Worker route and returns the Worker JSON as text', async () => {
    for (const name of TOOL_NAMES) {
      const before = f.worker.calls.length;
      const result = await client.callTool({ name, arguments: SAMPLE_ARGS[name] });
      expect(result.isError ?? false).toBe(false);
      expect(JSON.parse(textOf(result))).toMatchObject({ ok: true });
      const call = f.worker.calls[before]!;
      expect(call).toMatchObject({ kind: `tools/${name}`, pathAgent: f.agentId });
      expect(call.body).toEqual(SAMPLE_ARGS[name]);
    }
  });

  it('uses the token in the file at each call: rewritten between calls, never the stale env token', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const iat of [now - 50, now - 40, now - 30]) {
      await f.writeToken(iat);
      // the Worker refuses everything older than this token: only the file's token can pass
      f.worker.minIat = iat;
      const result = await client.callTool({ name: 'gt_status', arguments: {} });
      expect(result.isError ?? false).toBe(false);
      expect(f.worker.seen.at(-1)).toMatchObject({ status: 200, tokenIat: iat });
    }
    expect(f.control.remints).toBe(0);
  });

  it('an expired token refused to 5 concurrent calls → exactly one re-mint, and all 5 succeed', async () => {
    f.worker.minIat = Math.floor(Date.now() / 1000) + 1;
    const remintsBefore = f.control.remints;
    const results = await Promise.all(Array.from({ length: 5 }, () => client.callTool({ name: 'gt_status', arguments: {} })));
    expect(results.map((r) => r.isError ?? false)).toEqual([false, false, false, false, false]);
    expect(f.control.remints - remintsBefore).toBe(1);
    expect(f.worker.seen.filter((s) => s.status === 401).length).toBeGreaterThanOrEqual(5);
  });

  it('a revoked token → an isError result with status and code, and no token in it', async () => {
    f.worker.revoked.add(f.agentId);
    const result = await client.callTool({ name: 'gt_done', arguments: { summary: 'x' } });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    expect(JSON.parse(text)).toEqual({ error: { status: 401, code: 'token_revoked', message: expect.any(String) } });
    expect(text).not.toMatch(/eyJ/);
  });

  it('arguments that break the schema are refused as an error result, and nothing reaches the Worker', async () => {
    const before = f.worker.calls.length;
    const result = await client.callTool({ name: 'gt_review_complete', arguments: { beadId: 'b', outcome: 'maybe' } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/outcome/);
    expect(f.worker.calls.length).toBe(before);
  });

  it('without an agent environment tools still list, and a call fails as not_configured naming the variable', async () => {
    const bare = await connect({});
    try {
      expect((await bare.listTools()).tools).toHaveLength(TOOL_NAMES.length);
      const result = await bare.callTool({ name: 'gt_status', arguments: {} });
      expect(result.isError).toBe(true);
      expect(JSON.parse(textOf(result))).toMatchObject({ error: { status: 0, code: 'not_configured', message: expect.stringMatching(/GASTOWN_/) } });
    } finally {
      await bare.close();
    }
  });
});
