import type { TokenStore } from '../managers/token-store.ts';
import type { RemintResult } from './reminter.ts';
import type { Stats } from './stats.ts';

/** Where an agent's calls go. */
export interface AgentAddress {
  agentId: string;
  townId: string;
  apiUrl: string;
}

/** A Worker response as the control server sees it. `status` 0: no answer (or no token to send). */
export interface WorkerReply {
  status: number;
  code?: string;
  /** Why there was no answer (status 0): `timeout` or the network error's code, e.g. ECONNREFUSED. */
  detail?: string;
  /** A 401 `token_revoked` whose agent has ended for good (`error.agentEnded: true`). */
  agentEnded?: boolean;
  body: unknown;
}

interface Sent extends WorkerReply {
  /** The token the request carried. */
  token: string | null;
}

/** The kinds of request made on an agent's behalf (counted per kind). */
export type RequestKind = keyof Stats['requests'];

const TIMEOUT_MS = 15_000;

/** Codes of a 401 that a fresh token can heal. */
const HEALABLE = new Set(['token_expired', 'token_invalid']);

/**
 * Calls the Worker on an agent's behalf with THAT agent's token, read at the moment the
 * request is sent. A 401 that a new token can heal (or no token held at all) is healed
 * once: if the store holds another token by then (a refresh or a re-mint landed) retry
 * with it; otherwise re-mint through the container credential (single-flight per agent),
 * then retry once. A `token_revoked` is not healed here: the caller decides. Once `signal`
 * aborts (the caller halted), the request in flight is abandoned and nothing more is sent.
 */
export class WorkerClient {
  readonly #tokens: TokenStore;
  readonly #stats: Stats;
  readonly #remint: (agent: AgentAddress) => Promise<RemintResult>;

  constructor(tokens: TokenStore, stats: Stats, remint: (agent: AgentAddress) => Promise<RemintResult>) {
    this.#tokens = tokens;
    this.#stats = stats;
    this.#remint = remint;
  }

  /** POSTs `body` (JSON text) to one of the agent's routes (`path` after `/agents/:agentId`). */
  async post(agent: AgentAddress, path: string, body: string, kind: RequestKind, signal?: AbortSignal): Promise<WorkerReply> {
    const first = await this.#send(agent, path, body, kind, signal);
    const healable = first.code === 'no_token' || (first.status === 401 && HEALABLE.has(first.code ?? ''));
    if (!healable || signal?.aborted) return reply(first);
    const current = this.#tokens.token(agent.agentId);
    if (current === first.token && !(await this.#remint(agent)).ok) return reply(first);
    if (signal?.aborted) return reply(first);
    return reply(await this.#send(agent, path, body, kind, signal));
  }

  async #send(agent: AgentAddress, path: string, body: string, kind: RequestKind, signal?: AbortSignal): Promise<Sent> {
    const token = this.#tokens.token(agent.agentId);
    if (!token) return { status: 0, code: 'no_token', body: null, token };
    this.#stats.requests[kind]++;
    try {
      const res = await fetch(`${agent.apiUrl}/api/towns/${encodeURIComponent(agent.townId)}/agents/${encodeURIComponent(agent.agentId)}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS),
      });
      const parsed = parseJson(await res.text());
      const error = (parsed as { error?: { code?: unknown; agentEnded?: unknown } } | null)?.error;
      const code = typeof error?.code === 'string' ? error.code : undefined;
      this.#stats.countResponse(res.status, code);
      return { status: res.status, code, agentEnded: error?.agentEnded === true, body: parsed, token };
    } catch (err) {
      return { status: 0, code: 'unreachable', detail: unreachableDetail(err), body: null, token };
    }
  }
}

/** The parsed JSON of a response body; null when it is empty or not JSON. */
export function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

/** The reply without the token it was sent with. */
function reply(sent: Sent): WorkerReply {
  return { status: sent.status, code: sent.code, detail: sent.detail, agentEnded: sent.agentEnded, body: sent.body };
}

/** What a failed fetch says about why: never the request (it carries a token). */
export function unreachableDetail(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: unknown } };
  if (e?.name === 'TimeoutError') return 'timeout';
  return typeof e?.cause?.code === 'string' ? e.cause.code : String(e?.name ?? 'error');
}
