import { readFile } from 'node:fs/promises';

/** Where an agent's client finds its Worker, its token file and its control server. */
export interface GastownClientOptions {
  apiUrl: string;
  townId: string;
  agentId: string;
  tokenFile: string;
  controlUrl: string;
  nonce: string;
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

/**
 * The client an agent uses for tool calls. It reads the token file before every request
 * (the file is replaced atomically on each refresh; env goes stale). On a 401 it re-reads
 * the file; if the token did not change it asks its control server to re-mint (one
 * re-mint shared by all concurrent callers), then retries once.
 */
export class GastownClient {
  readonly #o: GastownClientOptions;
  #remint: Promise<void> | null = null;
  /** The token the last re-mint replaced: a late 401 for it needs a re-read, not another re-mint. */
  #replaced: string | null = null;
  /** Re-mints this client asked for (for tests and diagnostics). */
  remints = 0;

  constructor(options: GastownClientOptions = optionsFromEnv()) {
    this.#o = options;
  }

  /** Calls a tool: `POST /api/towns/:townId/agents/:agentId/tools/:name`. */
  callTool<T = unknown>(name: string, args: Record<string, unknown> = {}): Promise<T> {
    return this.request<T>(`/tools/${encodeURIComponent(name)}`, args);
  }

  /** POSTs to one of this agent's routes with its current token. */
  async request<T = unknown>(path: string, body: unknown): Promise<T> {
    const token = await this.#readToken();
    let res = await this.#post(path, body, token);
    if (res.status === 401) {
      let next = await this.#readToken();
      if (next === token) {
        await this.#remintOnce(token);
        next = await this.#readToken();
      }
      res = await this.#post(path, body, next);
    }
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : null;
    if (!res.ok) {
      const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
      throw new GastownCallError(res.status, error?.code ?? 'error', `${path} → ${res.status} ${error?.code ?? ''}`.trim());
    }
    return json as T;
  }

  async #readToken(): Promise<string> {
    return (await readFile(this.#o.tokenFile, 'utf8')).trim();
  }

  #post(path: string, body: unknown, token: string): Promise<Response> {
    return fetch(`${this.#o.apiUrl}/api/towns/${encodeURIComponent(this.#o.townId)}/agents/${encodeURIComponent(this.#o.agentId)}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  }

  #remintOnce(stale: string): Promise<void> {
    if (this.#remint) return this.#remint;
    if (this.#replaced === stale) return Promise.resolve();
    this.#replaced = stale;
    this.#remint = (async () => {
      try {
        this.remints++;
        const res = await fetch(`${this.#o.controlUrl}/local/agents/${encodeURIComponent(this.#o.agentId)}/remint`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.#o.nonce}` },
          signal: AbortSignal.timeout(30_000),
        });
        await res.body?.cancel();
      } catch {
        // the retry below reports the failure
      } finally {
        this.#remint = null;
      }
    })();
    return this.#remint;
  }
}
