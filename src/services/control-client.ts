import { AppError } from '../errors';

/** Requests reach the control server through this seam: the Container binding, or CONTAINER_URL locally. */
export type ControlTransport = (path: string, init: RequestInit) => Promise<Response>;

/** The outcome of delivering one token. `status` 0 means the request itself failed. */
export interface TokenPushResult {
  agentId: string;
  status: number;
  expiresAt?: string;
}

/** What `/agents/start` needs. */
export interface StartAgentRequest {
  agentId: string;
  townId: string;
  rigId: string | null;
  role: string;
  token: string;
  apiUrl: string;
  command?: string[];
  env?: Record<string, string>;
  containerCredential?: string;
}

/** Tokens per batched push; a pass with more agents sends several batches. */
export const REFRESH_BATCH_SIZE = 500;
const TIMEOUT_MS = 15_000;

/** Typed client of the container control server. Errors never include token values. */
export class ControlClient {
  readonly #transport: ControlTransport;
  readonly #secret: string;
  /** Subrequests made, for the refresh pass's report and the benchmark. */
  requests = 0;

  constructor(transport: ControlTransport, secret: string) {
    this.#transport = transport;
    this.#secret = secret;
  }

  async start(body: StartAgentRequest): Promise<{ status: number; body: unknown }> {
    return this.#call('/agents/start', body);
  }

  async message(agentId: string, text: string): Promise<{ status: number; body: unknown }> {
    return this.#call(`/agents/${encodeURIComponent(agentId)}/message`, { text });
  }

  async stop(agentId: string): Promise<{ status: number; body: unknown }> {
    return this.#call(`/agents/${encodeURIComponent(agentId)}/stop`, {});
  }

  /** Pushes one token (`/agents/:id/refresh-token`). */
  async refreshToken(agentId: string, token: string): Promise<TokenPushResult> {
    const { status, body } = await this.#call(`/agents/${encodeURIComponent(agentId)}/refresh-token`, { token });
    return { agentId, status, expiresAt: (body as { expiresAt?: string } | null)?.expiresAt };
  }

  /**
   * Pushes many tokens in one request per batch (`/agents/refresh-tokens`); when a batch
   * request fails as a whole, falls back to one request per agent.
   */
  async refreshTokens(entries: ReadonlyArray<{ agentId: string; token: string }>): Promise<TokenPushResult[]> {
    const results: TokenPushResult[] = [];
    for (let i = 0; i < entries.length; i += REFRESH_BATCH_SIZE) {
      const batch = entries.slice(i, i + REFRESH_BATCH_SIZE);
      const { status, body } = await this.#call('/agents/refresh-tokens', { tokens: batch });
      const batchResults = (body as { results?: TokenPushResult[] } | null)?.results;
      if (status === 200 && Array.isArray(batchResults)) {
        const byId = new Map(batchResults.map((r) => [r.agentId, r]));
        for (const e of batch) results.push(byId.get(e.agentId) ?? { agentId: e.agentId, status: 0 });
      } else {
        for (const e of batch) results.push(await this.refreshToken(e.agentId, e.token));
      }
    }
    return results;
  }

  async #call(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    this.requests++;
    try {
      const res = await this.#transport(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#secret}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed };
    } catch (err) {
      console.warn(JSON.stringify({ msg: 'control server unreachable', path: path.replace(/\/agents\/[^/]+\//, '/agents/:id/'), error: String((err as Error)?.message ?? err) }));
      return { status: 0, body: null };
    }
  }
}

/** Throws a 502 unless a control-server call succeeded. */
export function expectOk(result: { status: number; body: unknown }, what: string): void {
  if (result.status >= 200 && result.status < 300) return;
  const code = (result.body as { error?: { code?: string } } | null)?.error?.code;
  throw new AppError('container_unavailable', `${what} failed at the control server (status ${result.status}${code ? `, ${code}` : ''})`);
}
