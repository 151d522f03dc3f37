import { AppError } from '../errors';

/** Requests reach the control server through this seam: the Container binding, or CONTAINER_URL locally. */
export type ControlTransport = (path: string, init: RequestInit) => Promise<Response>;

/** What the control server holds for an agent when it refuses an older token (409). */
export interface HeldToken {
  gen: number | null;
  iat: number;
  exp: number;
}

/** The outcome of delivering one token. `status` 0 means the request itself failed. */
export interface TokenPushResult {
  agentId: string;
  status: number;
  expiresAt?: string;
  held?: HeldToken;
}

/** An agent as the control server lists it (`GET /agents`). */
export interface ContainerAgent {
  agentId: string;
  townId?: string;
  role?: string;
  /** `running`; `exited` (its process ended, still delivering); `recovering` (no process: a restarted server delivering what the previous one journaled). */
  status: string;
  pid?: number;
}

/** What `/agents/start` needs. */
export interface StartAgentRequest {
  agentId: string;
  townId: string;
  rigId: string | null;
  role: string;
  beadId?: string | null;
  token: string;
  apiUrl: string;
  runtime?: string;
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
    return this.#call('POST', '/agents/start', body);
  }

  async message(agentId: string, text: string): Promise<{ status: number; body: unknown }> {
    return this.#call('POST', `/agents/${encodeURIComponent(agentId)}/message`, { text });
  }

  async stop(agentId: string): Promise<{ status: number; body: unknown }> {
    return this.#call('POST', `/agents/${encodeURIComponent(agentId)}/stop`, {});
  }

  /** The town's agents the container runs (or is still delivering for); null when it did not answer. */
  async listAgents(townId: string): Promise<ContainerAgent[] | null> {
    const { status, body } = await this.#call('GET', `/agents?townId=${encodeURIComponent(townId)}`);
    if (status !== 200 || !Array.isArray(body)) return null;
    return (body as ContainerAgent[]).filter((a) => typeof a?.agentId === 'string' && (a.townId === undefined || a.townId === townId));
  }

  /** Pushes one token (`/agents/:id/refresh-token`). */
  async refreshToken(agentId: string, token: string): Promise<TokenPushResult> {
    const { status, body } = await this.#call('POST', `/agents/${encodeURIComponent(agentId)}/refresh-token`, { token });
    const b = body as { expiresAt?: string; held?: HeldToken } | null;
    return { agentId, status, expiresAt: b?.expiresAt, held: b?.held };
  }

  /**
   * Pushes many tokens in one request per batch (`/agents/refresh-tokens`). The batch route
   * is assumed present: only when it is missing (404/405) does a batch go one request per
   * agent; any other failure (no answer, a timeout, a 5xx) fails the batch's entries, which
   * are retried on their own schedule.
   */
  async refreshTokens(entries: ReadonlyArray<{ agentId: string; token: string }>): Promise<TokenPushResult[]> {
    const results: TokenPushResult[] = [];
    for (let i = 0; i < entries.length; i += REFRESH_BATCH_SIZE) {
      const batch = entries.slice(i, i + REFRESH_BATCH_SIZE);
      const { status, body } = await this.#call('POST', '/agents/refresh-tokens', { tokens: batch });
      const batchResults = (body as { results?: TokenPushResult[] } | null)?.results;
      if (status === 200 && Array.isArray(batchResults)) {
        const byId = new Map(batchResults.map((r) => [r.agentId, r]));
        for (const e of batch) results.push(byId.get(e.agentId) ?? { agentId: e.agentId, status: 0 });
      } else if (status === 404 || status === 405) {
        for (const e of batch) results.push(await this.refreshToken(e.agentId, e.token));
      } else {
        for (const e of batch) results.push({ agentId: e.agentId, status });
      }
    }
    return results;
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    this.requests++;
    // a timer cleared with the answer, not AbortSignal.timeout: a pending timer keeps the object busy long after the call
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
    try {
      const res = await this.#transport(path, {
        method,
        headers: { authorization: `Bearer ${this.#secret}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abort.signal,
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
      console.warn(JSON.stringify({ msg: 'control server unreachable', path: path.replace(/\/agents\/[^/?]+\//, '/agents/:id/').replace(/\?.*$/, ''), error: String((err as Error)?.message ?? err) }));
      return { status: 0, body: null };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** True when a control-server call succeeded. */
export function succeeded(result: { status: number }): boolean {
  return result.status >= 200 && result.status < 300;
}

/** Throws a 502 unless a control-server call succeeded. */
export function expectOk(result: { status: number; body: unknown }, what: string): void {
  if (succeeded(result)) return;
  const code = (result.body as { error?: { code?: string } } | null)?.error?.code;
  throw new AppError('container_unavailable', `${what} failed at the control server (status ${result.status}${code ? `, ${code}` : ''})`);
}
