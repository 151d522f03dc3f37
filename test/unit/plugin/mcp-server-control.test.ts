/**
 * The Gastown MCP server healing a 401 through the real control server: an agent started by
 * the control server (under a uid of its own when this runs as root) runs the MCP server
 * through the official MCP client; the stand-in Worker behind the control server refuses
 * the token every concurrent call holds; the re-mint goes through the control server's
 * agent-facing `/local/agents/:id/remint`, which asks the Worker with the container
 * credential and replaces the agent's token file.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { until, useStandInPair } from '../container/harness.ts';
import { signAgentToken } from '../container/stand-in-worker.ts';

const BURST_AGENT = fileURLToPath(new URL('./mcp-burst-agent.ts', import.meta.url));
const CALLS = 5;

describe('MCP server behind the real control server', () => {
  // heartbeats would meet the refused token first and heal it themselves
  const t = useStandInPair({ heartbeatIntervalMs: 600_000 });
  const eventsOf = (type: string) => [...t.worker.events.values()].filter((e) => (e as { type: string }).type === type) as Array<Record<string, unknown>>;

  it(`a token refused to ${CALLS} concurrent MCP calls → one re-mint through the control server's /local re-mint route, and all ${CALLS} succeed with the new token`, async () => {
    const agentId = 'mcp-burst-1';
    const start = await t.c.call('POST', '/agents/start', {
      agentId, townId: t.worker.townId, rigId: 'rig-1', role: 'polecat', apiUrl: t.worker.url, command: [process.execPath, BURST_AGENT],
      token: await signAgentToken(agentId, t.worker.townId, Math.floor(Date.now() / 1000) - 5), containerCredential: t.worker.credential,
    });
    expect(start.status).toBe(201);
    await until(() => eventsOf('ready').length > 0, 30_000, 'the agent to connect to its MCP server');
    expect(eventsOf('ready')[0]).toMatchObject({ tools: expect.any(Number) });

    // every token issued so far is now refused as expired; a re-mint issues one that passes
    t.worker.minIat = Math.floor(Date.now() / 1000) + 1;
    const remints = t.worker.remints;
    const seenBefore = t.worker.seen.length;
    expect((await t.c.call('POST', `/agents/${agentId}/message`, { text: String(CALLS) })).status).toBe(200);
    await until(() => eventsOf('burst').length > 0, 30_000, 'the burst of calls to finish');

    const burst = eventsOf('burst')[0]!;
    expect(burst.errors).toEqual(Array.from({ length: CALLS }, () => false));
    for (const output of burst.outputs as string[]) expect(JSON.parse(output)).toMatchObject({ ok: true });
    expect(t.worker.remints - remints).toBe(1);
    // the calls met the refusal together (each with the token it read; one that starts after
    // the file was replaced may not), and only they did: the control server's own requests
    // (events, heartbeats) never asked for this re-mint
    const refused = t.worker.seen.slice(seenBefore).filter((s) => s.status === 401);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.every((s) => s.kind === 'tool' && s.pathAgent === agentId)).toBe(true);
    const passed = t.worker.seen.filter((s) => s.kind === 'tool' && s.status === 200 && s.pathAgent === agentId);
    expect(passed).toHaveLength(CALLS);
    expect(passed.every((s) => (s.tokenIat ?? 0) >= t.worker.minIat)).toBe(true);
    expect(JSON.stringify([...t.worker.events.values()])).not.toMatch(/eyJ/);
    expect((await t.c.call('POST', `/agents/${agentId}/stop`)).status).toBe(200);
  });
});
