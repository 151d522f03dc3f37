import { readFile } from 'node:fs/promises';

/** Where an agent's client finds its Worker, its token file and its control server. */
export interface GastownClientOptions {
  apiUrl: string;
  townId: string;
  agentId: string;
  tokenFile: string;
  controlUrl: string;
  nonce: string;
  /** After a failed re-mint, the same stale token is not re-minted again for this long (default 1 s). */
  remintRetryMs?: number;
}

/** A failed call: status and error code, never the token. */
export class GastownCallError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'GastownCallError';
    this.status = status;
    this.code = code;
  }
}

/** Options from the agent environment the control server set up. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): GastownClientOptions {
  const need = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set: is this process an agent started by the control server?`);
    return value;
  };
  return {
    apiUrl: need('GASTOWN_API_URL'),
    townId: need('GASTOWN_TOWN_ID'),
    agentId: need('GASTOWN_AGENT_ID'),
    tokenFile: need('GASTOWN_TOKEN_FILE'),
    controlUrl: need('GASTOWN_CONTROL_URL'),
    nonce: need('GASTOWN_AGENT_NONCE'),
  };
}

const REMINT_RETRY_MS = 1_000;
const TIMEOUT_MS = 30_000;

/**
 * The client an agent uses for tool calls. It reads the token file before every request
 * (the file is replaced atomically on each refresh; env goes stale). On a 401 it re-reads
 * the file: if the token changed it retries once with it; if not (and the token is not
 * revoked), it asks its control server to re-mint (one re-mint shared by every concurrent
 * caller), re-reads the file and retries once. A call that still fails throws a
 * GastownCallError (status and code only).
 */
export class GastownClient {
  readonly #o: GastownClientOptions;
  #remint: Promise<void> | null = null;
  /** The token the last successful re-mint replaced: a late 401 for it needs a re-read, not another re-mint. */
  #replaced: string | null = null;
  #failed: { token: string; at: number } | null = null;
  /** Re-mints this client asked for (for tests and diagnostics). */
  remints = 0;

  constructor(options: GastownClientOptions = optionsFromEnv()) {
    this.#o = options;
  }

  get agentId(): string {
    return this.#o.agentId;
  }

  /** Calls a tool: `POST /api/towns/:townId/agents/:agentId/tools/:name`. */
  callTool<T = unknown>(name: string, args: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(`/tools/${encodeURIComponent(name)}`, args);
  }

  /** POSTs to one of this agent's routes (`path` after `/agents/:agentId`) with its current token. */
  async request<T = unknown>(path: string, body: unknown): Promise<T> {
    const token = await this.#readToken();
    let res = await this.#post(path, body, token);
    if (res.status === 401) {
      const code = await errorCode(res);
      let next = await this.#readToken();
      // a revoked token is final: only a token pushed meanwhile (a changed file) can help
      if (next === token && code === 'token_revoked') throw new GastownCallError(401, code, `${path} → 401 ${code}`);
      if (next === token) {
        await this.#remintOnce(token);
        next = await this.#readToken();
      }
      res = await this.#post(path, body, next);
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      if (res.ok) throw new GastownCallError(res.status, 'bad_response', `${path} → ${res.status}, not JSON`);
    }
    if (!res.ok) {
      const error = (json as { error?: { code?: string } } | null)?.error;
      const code = typeof error?.code === 'string' ? error.code : 'error';
      throw new GastownCallError(res.status, code, `${path} → ${res.status} ${code}`);
    }
    return json as T;
  }

  async #readToken(): Promise<string> {
    try {
      return (await readFile(this.#o.tokenFile, 'utf8')).trim();
    } catch {
      throw new GastownCallError(0, 'no_token_file', 'the token file is gone (is the agent stopped?)');
    }
  }

  async #post(path: string, body: unknown, token: string): Promise<Response> {
    try {
      return await fetch(`${this.#o.apiUrl}/api/towns/${encodeURIComponent(this.#o.townId)}/agents/${encodeURIComponent(this.#o.agentId)}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new GastownCallError(0, 'unreachable', `${path} → ${(err as Error)?.name ?? 'network error'}`);
    }
  }

  /** One re-mint for all concurrent callers holding the same stale token. */
  #remintOnce(stale: string): Promise<void> {
    if (this.#remint) return this.#remint;
    if (this.#replaced === stale) return Promise.resolve();
    if (this.#failed?.token === stale && Date.now() - this.#failed.at < (this.#o.remintRetryMs ?? REMINT_RETRY_MS)) return Promise.resolve();
    this.#remint = (async () => {
      try {
        this.remints++;
        const res = await fetch(`${this.#o.controlUrl}/local/agents/${encodeURIComponent(this.#o.agentId)}/remint`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#o.nonce}` },
          signal: AbortSignal.timeout(TIMEOUT_MS),
        });
        await res.body?.cancel();
        if (res.ok) {
          this.#replaced = stale;
          this.#failed = null;
        } else {
          this.#failed = { token: stale, at: Date.now() };
        }
      } catch {
        this.#failed = { token: stale, at: Date.now() };
      } finally {
        this.#remint = null;
      }
    })();
    return this.#remint;
  }
}

async function errorCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown } } | null;
    return typeof body?.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

/** Calls one tool; what the MCP server and `gt` are built on. */
export type ToolCaller = (name: string, args: Record<string, unknown>) => Promise<unknown>;

/**
 * A caller over a client configured from `env` on first use: a process can start (and
 * list its tools) without an agent environment, while a call without one fails with
 * `not_configured`, naming the missing variable.
 */
export function callerFromEnv(env: NodeJS.ProcessEnv = process.env): ToolCaller {
  let client: GastownClient | null = null;
  return (name, args) => {
    try {
      client ??= new GastownClient(optionsFromEnv(env));
    } catch (err) {
      return Promise.reject(new GastownCallError(0, 'not_configured', (err as Error).message));
    }
    return client.callTool(name, args);
  };
}

/** A client for this agent, configured from the environment the control server gave it. */
export function createGastownClient(options: GastownClientOptions = optionsFromEnv()): GastownClient {
  return new GastownClient(options);
}
