import type { TokenStore } from '../managers/token-store.ts';
import type { AgentRecord } from './agents.ts';
import type { Deliveries } from './deliveries.ts';
import type { LastFailure } from './failure-streak.ts';

/** One entry of `GET /agents`: never a token value. */
export interface AgentListing {
  agentId: string;
  townId: string;
  role: string | null;
  /** `running`; `exited` (still delivering); `recovering` (no process: delivering what a previous control server journaled). */
  status: 'running' | 'exited' | 'recovering';
  pid: number | null;
  tokenExpiresAt: string | null;
  /** The held token's `gen` claim; null without a token or without the claim. */
  tokenGen: number | null;
  tokenAcceptedAt: string | null;
  lastHeartbeatOkAt: string | null;
  heartbeatFailures: number;
  lastHeartbeatFailure: LastFailure | null;
  pendingDeliveries: number;
  deliveryFailures: number;
  lastDeliveryFailure: LastFailure | null;
}

/** The agents a server holds (optionally of one town): its records, then outboxes with no record. */
export function listAgents(records: ReadonlyMap<string, AgentRecord>, deliveries: Deliveries, tokens: TokenStore, townId?: string): AgentListing[] {
  const token = (agentId: string) => {
    const claims = tokens.claims(agentId);
    return {
      tokenExpiresAt: claims ? new Date(claims.exp * 1000).toISOString() : null,
      tokenGen: claims?.gen ?? null,
      tokenAcceptedAt: toIso(tokens.acceptedAt(agentId)),
    };
  };
  const listed: AgentListing[] = [];
  for (const a of records.values()) {
    if (townId !== undefined && a.townId !== townId) continue;
    listed.push({
      agentId: a.agentId, townId: a.townId, role: a.role, status: a.status, pid: a.pid, ...token(a.agentId),
      lastHeartbeatOkAt: toIso(a.lastHeartbeatOkAt), heartbeatFailures: a.heartbeats.failures, lastHeartbeatFailure: a.heartbeats.last,
      pendingDeliveries: a.outbox.pending, deliveryFailures: a.outbox.failures.failures, lastDeliveryFailure: a.outbox.failures.last,
    });
  }
  for (const outbox of deliveries.all()) {
    const { agentId } = outbox.address;
    if (records.has(agentId) || (townId !== undefined && outbox.address.townId !== townId)) continue;
    listed.push({
      agentId, townId: outbox.address.townId, role: null, status: 'recovering', pid: null, ...token(agentId),
      lastHeartbeatOkAt: null, heartbeatFailures: 0, lastHeartbeatFailure: null,
      pendingDeliveries: outbox.pending, deliveryFailures: outbox.failures.failures, lastDeliveryFailure: outbox.failures.last,
    });
  }
  return listed;
}

function toIso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
