/**
 * Token validity over time, pure: from the token history, each agent's validity windows
 * and the spans of its life when it held no valid token ("gaps"). An agent whose gaps
 * are empty never had an expired token in the period shown.
 */

/** Statuses of an agent that is still alive (its check runs up to now). */
export const LIVE_STATUSES = new Set(['starting', 'working', 'idle', 'stalled']);

/**
 * @param {Array<{agentId: string, gen: number, kind: string, issuedAt: string, expiresAt: string}>} tokens
 * @param {Array<{id: string, status: string, endedAt?: string | null}>} agents the town's agents (those known)
 * @param {number} now page time (ms)
 * @returns {Map<string, {windows: Array<{gen: number, kind: string, from: number, to: number}>, from: number, until: number, gaps: Array<{from: number, to: number}>, counts: {start: number, refresh: number, remint: number}}>}
 */
export function tokenCoverage(tokens, agents, now) {
  const byAgent = new Map();
  for (const t of tokens) {
    const from = Date.parse(t.issuedAt);
    const to = Date.parse(t.expiresAt);
    if (!Number.isFinite(from) || !Number.isFinite(to)) continue;
    let entry = byAgent.get(t.agentId);
    if (!entry) byAgent.set(t.agentId, (entry = { windows: [], counts: { start: 0, refresh: 0, remint: 0 } }));
    entry.windows.push({ gen: t.gen, kind: t.kind, from, to });
    if (t.kind in entry.counts) entry.counts[t.kind]++;
  }
  const agentById = new Map(agents.map((a) => [a.id, a]));
  const result = new Map();
  for (const [agentId, entry] of byAgent) {
    entry.windows.sort((a, b) => a.from - b.from || a.gen - b.gen);
    const until = checkUntil(agentById.get(agentId), entry.windows, now);
    result.set(agentId, { ...entry, from: entry.windows[0].from, until, gaps: gapsOf(entry.windows, until) });
  }
  return result;
}

/**
 * Up to when the agent needed a token: now while it lives, its end once ended. An agent
 * not in the town view (ended long ago) is checked up to its last token's expiry.
 */
function checkUntil(agent, windows, now) {
  const lastExpiry = Math.max(...windows.map((w) => w.to));
  if (!agent) return Math.min(now, lastExpiry);
  if (LIVE_STATUSES.has(agent.status)) return now;
  const ended = Date.parse(agent.endedAt ?? '');
  return Number.isFinite(ended) ? Math.min(ended, now) : Math.min(now, lastExpiry);
}

/** Spans in [first window's start, until] that no window covers. Windows sorted by start. */
export function gapsOf(windows, until) {
  const gaps = [];
  if (windows.length === 0) return gaps;
  let covered = windows[0].from;
  for (const w of windows) {
    if (w.from > covered) gaps.push({ from: covered, to: Math.min(w.from, until) });
    covered = Math.max(covered, w.to);
    if (covered >= until) break;
  }
  if (until > covered) gaps.push({ from: covered, to: until });
  return gaps.filter((g) => g.to > g.from);
}

/** Total milliseconds of a list of gaps. */
export function gapTotal(gaps) {
  return gaps.reduce((sum, g) => sum + (g.to - g.from), 0);
}
