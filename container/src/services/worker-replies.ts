import type { WorkerReply } from './worker-client.ts';

/** What a Worker reply means for the items a request carried. */
export type Verdict =
  /** 2xx: taken (events: see the per-event results). */
  | 'delivered'
  /** 413: too large as a whole. */
  | 'too_large'
  /** 400: malformed as a whole (a batch is split to find the bad item). */
  | 'bad_request'
  /** Another 4xx the Worker will answer the same way every time. */
  | 'refused'
  /** 401 `token_revoked` with `agentEnded: true`: the agent is gone for good. */
  | 'ended'
  /** No answer, 5xx, 408, 429, or a 401 a newer token may heal: try again later. */
  | 'retry';

export function classify(reply: WorkerReply): Verdict {
  const { status } = reply;
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 413) return 'too_large';
  if (status === 400) return 'bad_request';
  if (status === 401) return reply.code === 'token_revoked' && reply.agentEnded ? 'ended' : 'retry';
  if (status === 408 || status === 429) return 'retry';
  if (status >= 400 && status < 500) return 'refused';
  return 'retry';
}

/**
 * The ids of a delivered events batch the Worker refused, from its per-event results
 * (`{results: [{id, status: "stored" | "duplicate" | "refused"}]}`). A 2xx without a
 * `results` array took the whole batch.
 */
export function eventResults(body: unknown, ids: readonly string[]): { refused: Set<string> } {
  const refused = new Set<string>();
  const results = (body as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return { refused };
  const sent = new Set(ids);
  for (const r of results as Array<{ id?: unknown; status?: unknown } | null>) {
    if (r && typeof r.id === 'string' && r.status === 'refused' && sent.has(r.id)) refused.add(r.id);
  }
  return { refused };
}
