import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signAgentToken, startStandInWorker, type StandInWorker } from '../container/stand-in-worker.ts';

/** The control server's agent-facing re-mint route, standing alone: what the plugin calls on a 401. */
export interface RemintServer {
  url: string;
  /** Re-mints served (each rewrote the token file). */
  remints: number;
  close(): Promise<void>;
}

/**
 * Serves `POST /local/agents/:id/remint` (bearer = the agent's nonce) as the control server
 * does: asks the Worker for a token with the container credential, then replaces the
 * agent's token file atomically (write + rename). The token never appears in a response.
 */
export async function startRemintServer(worker: StandInWorker, agent: { agentId: string; nonce: string; tokenFile: string }): Promise<RemintServer> {
  const state = { remints: 0 };
  const server: Server = createServer(async (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const m = /^\/local\/agents\/([^/]+)\/remint$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m || decodeURIComponent(m[1]!) !== agent.agentId) return send(404, { error: { code: 'not_found', message: 'no such agent' } });
    if (req.headers.authorization !== `Bearer ${agent.nonce}`) return send(401, { error: { code: 'unauthorized', message: 'bad nonce' } });
    const minted = await fetch(`${worker.url}/api/towns/${worker.townId}/agents/${agent.agentId}/token`, { method: 'POST', headers: { authorization: `Bearer ${worker.credential}` } });
    if (!minted.ok) return send(502, { error: { code: 'remint_failed', message: `worker answered ${minted.status}` } });
    const { token, expiresAt } = (await minted.json()) as { token: string; expiresAt: string };
    writeTokenFile(agent.tokenFile, token);
    state.remints++;
    send(200, { agentId: agent.agentId, expiresAt });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  });
}

/** Replaces a token file as the control server does: a temp file (0600) renamed over it. */
export function writeTokenFile(path: string, token: string): void {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, token, { mode: 0o600 });
  renameSync(tmp, path);
}

/** One agent's world: a stand-in Worker, a re-mint route, a token file, and the agent environment. */
export interface AgentFixture {
  worker: StandInWorker;
  control: RemintServer;
  agentId: string;
  townId: string;
  nonce: string;
  tokenFile: string;
  dir: string;
  /** The GASTOWN_* variables the control server gives an agent (with a stale GASTOWN_SESSION_TOKEN). */
  env: Record<string, string>;
  /** Signs a token issued at `iat` (seconds) and writes it to the token file; returns it. */
  writeToken(iat: number): Promise<string>;
  close(): Promise<void>;
}

/** Starts an agent fixture; `role` and `rigId` only shape the environment. */
export async function startAgentFixture(options: { agentId?: string; role?: string; rigId?: string } = {}): Promise<AgentFixture> {
  const worker = await startStandInWorker();
  const agentId = options.agentId ?? 'agent-1';
  const dir = mkdtempSync(join(tmpdir(), 'gastown-agent-'));
  const tokenFile = join(dir, `${agentId}.jwt`);
  const nonce = `nonce-${Math.random().toString(36).slice(2)}`;
  const control = await startRemintServer(worker, { agentId, nonce, tokenFile });
  const writeToken = async (iat: number) => {
    const token = await signAgentToken(agentId, worker.townId, iat);
    writeTokenFile(tokenFile, token);
    return token;
  };
  const first = await writeToken(Math.floor(Date.now() / 1000) - 100);
  const env = {
    GASTOWN_AGENT_ID: agentId,
    GASTOWN_TOWN_ID: worker.townId,
    GASTOWN_RIG_ID: options.rigId ?? 'rig-1',
    GASTOWN_ROLE: options.role ?? 'polecat',
    GASTOWN_API_URL: worker.url,
    GASTOWN_TOKEN_FILE: tokenFile,
    GASTOWN_SESSION_TOKEN: first,
    GASTOWN_CONTROL_URL: control.url,
    GASTOWN_AGENT_NONCE: nonce,
  };
  return {
    worker, control, agentId, townId: worker.townId, nonce, tokenFile, dir, env, writeToken,
    async close() {
      await control.close();
      await worker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
