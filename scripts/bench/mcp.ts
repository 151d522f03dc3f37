/**
 * What MCP costs an agent: a `gt_status` call through the Gastown MCP server (the official
 * MCP client over stdio → the real MCP server process → a real HTTP Worker stand-in that
 * verifies HS256 tokens) against the same call through the plugin client directly. Both
 * read the token file before each call, as agents do. Calls are sequential and measured in
 * alternating blocks, so drift of the machine hits both sides alike.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { SignJWT, jwtVerify } from 'jose';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GastownClient } from '../../container/plugin/gastown-client.ts';
import { percentile } from './stats.ts';

const SECRET = new TextEncoder().encode('bench-mcp-jwt-secret-0123456789abcdef0123');
const TOWN = 'town-bench';
const AGENT = 'polecat-bench';
const MCP_SERVER = fileURLToPath(new URL('../../container/plugin/mcp-server.ts', import.meta.url));

/** Latency figures of one side, in milliseconds. */
export interface Latency {
  p50Ms: number;
  p99Ms: number;
}

export interface McpBench {
  calls: number;
  direct: Latency;
  mcp: Latency;
  /** MCP over direct, at p50 and p99. */
  ratioP50: number;
  ratioP99: number;
}

/** A Worker stand-in: verifies the bearer token, answers gt_status as the Worker shapes it. */
async function startWorker() {
  const server = createServer(async (req, res) => {
    for await (const _ of req);
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    try {
      await jwtVerify(token, SECRET, { algorithms: ['HS256'], issuer: 'gastown', audience: 'gastown-agent' });
    } catch {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"token_invalid","message":"no"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ agent: { id: AGENT, role: 'polecat', rigId: 'rig-1', beadId: 'bead-1', status: 'working' }, bead: { id: 'bead-1', title: 'bench', status: 'assigned' } }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function timed(fn: () => Promise<unknown>, into: number[]): Promise<void> {
  const t0 = performance.now();
  await fn();
  into.push(performance.now() - t0);
}

const figures = (xs: number[]): Latency => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
};

/** Measures `calls` gt_status calls each way (after a warm-up of 50 each), with `nodePath` running the MCP server. */
export async function benchMcp(calls = 1_000, nodePath = process.execPath): Promise<McpBench> {
  const worker = await startWorker();
  const dir = mkdtempSync(join(tmpdir(), 'gastown-bench-mcp-'));
  const tokenFile = join(dir, `${AGENT}.jwt`);
  const iat = Math.floor(Date.now() / 1000);
  writeFileSync(tokenFile, await new SignJWT({ agentId: AGENT, townId: TOWN, userId: 'u', gen: 1 }).setProtectedHeader({ alg: 'HS256' }).setSubject(AGENT).setIssuer('gastown').setAudience('gastown-agent').setIssuedAt(iat).setExpirationTime(iat + 3_600).sign(SECRET), { mode: 0o600 });
  const env = {
    GASTOWN_AGENT_ID: AGENT, GASTOWN_TOWN_ID: TOWN, GASTOWN_RIG_ID: 'rig-1', GASTOWN_ROLE: 'polecat', GASTOWN_API_URL: worker.url,
    GASTOWN_TOKEN_FILE: tokenFile, GASTOWN_CONTROL_URL: 'http://127.0.0.1:9', GASTOWN_AGENT_NONCE: 'unused',
  };
  const direct = new GastownClient({ apiUrl: worker.url, townId: TOWN, agentId: AGENT, tokenFile, controlUrl: env.GASTOWN_CONTROL_URL, nonce: env.GASTOWN_AGENT_NONCE });
  const mcp = new Client({ name: 'gastown-bench', version: '1.0.0' });
  await mcp.connect(new StdioClientTransport({ command: nodePath, args: [MCP_SERVER], env: { PATH: process.env.PATH ?? '', ...env }, stderr: 'ignore' }));
  const viaMcp = async () => {
    const result = await mcp.callTool({ name: 'gt_status', arguments: {} });
    if (result.isError) throw new Error(`gt_status through MCP failed: ${JSON.stringify(result.content)}`);
  };
  const viaClient = () => direct.callTool('gt_status');
  try {
    for (let i = 0; i < 50; i++) {
      await viaClient();
      await viaMcp();
    }
    const d: number[] = [];
    const m: number[] = [];
    const block = 50;
    for (let done = 0; done < calls; done += block) {
      const n = Math.min(block, calls - done);
      for (let i = 0; i < n; i++) await timed(viaClient, d);
      for (let i = 0; i < n; i++) await timed(viaMcp, m);
    }
    const directFigures = figures(d);
    const mcpFigures = figures(m);
    return { calls, direct: directFigures, mcp: mcpFigures, ratioP50: mcpFigures.p50Ms / directFigures.p50Ms, ratioP99: mcpFigures.p99Ms / directFigures.p99Ms };
  } finally {
    await mcp.close();
    await worker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
