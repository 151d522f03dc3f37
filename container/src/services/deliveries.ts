import type { BackoffOptions } from '../domain/backoff.ts';
import type { ItemRecord } from '../managers/journal-records.ts';
import { Outbox, type DeliveryClient, type DropSink, type OutboxDeps, type OutboxJournal } from './outbox.ts';
import type { AgentAddress } from './worker-client.ts';

/** What the registry builds outboxes with, and whom it tells when one is done. */
export interface DeliveriesDeps {
  client: DeliveryClient;
  journal: OutboxJournal;
  drops: DropSink;
  stats: OutboxDeps['stats'];
  backoff?: BackoffOptions;
  /** An outbox has nothing left (delivered or dropped). */
  onDrained(agentId: string, outbox: Outbox): void;
  /** The Worker said the agent has ended for good. */
  onAgentEnded(agentId: string, outbox: Outbox): void;
}

/**
 * One outbox per agent id, across its incarnations and across control-server restarts:
 * a new start of an agent whose previous incarnation is still delivering (or whose items
 * a previous server journaled) takes over that outbox; only the old completion report is
 * dropped (`superseded`), its events go with the new token (the Worker stores events by
 * id, per agent).
 */
export class Deliveries {
  readonly #d: DeliveriesDeps;
  readonly #outboxes = new Map<string, Outbox>();

  constructor(deps: DeliveriesDeps) {
    this.#d = deps;
  }

  get size(): number {
    return this.#outboxes.size;
  }

  get(agentId: string): Outbox | undefined {
    return this.#outboxes.get(agentId);
  }

  all(): IterableIterator<Outbox> {
    return this.#outboxes.values();
  }

  /** The outbox of a new incarnation: the one still delivering for this agent, or a new one. */
  open(address: AgentAddress): Outbox {
    const existing = this.#outboxes.get(address.agentId);
    if (existing && !existing.closed && existing.address.townId === address.townId) {
      existing.dropCompletion('superseded');
      existing.address.apiUrl = address.apiUrl;
      existing.retryNow();
      return existing;
    }
    // an ended agent's outbox, or another town's agent of the same id: what it held is not this agent's
    existing?.end('superseded');
    return this.#create({ ...address });
  }

  /** Outboxes for the items a previous server journaled, one per agent (the address of its latest item). */
  restore(items: readonly ItemRecord[]): AgentAddress[] {
    const byAgent = new Map<string, ItemRecord[]>();
    for (const item of items) {
      const list = byAgent.get(item.agentId);
      if (list) list.push(item);
      else byAgent.set(item.agentId, [item]);
    }
    const addresses: AgentAddress[] = [];
    for (const [agentId, records] of byAgent) {
      const last = records.at(-1)!;
      const outbox = this.#create({ agentId, townId: last.townId, apiUrl: last.apiUrl });
      addresses.push(outbox.address);
      for (const record of records) outbox.restore(record);
    }
    return addresses;
  }

  /** Forgets a finished outbox (if it is still the agent's). */
  release(agentId: string, outbox: Outbox): void {
    if (this.#outboxes.get(agentId) === outbox) this.#outboxes.delete(agentId);
  }

  #create(address: AgentAddress): Outbox {
    const outbox: Outbox = new Outbox(address, {
      ...this.#d,
      onDrained: () => this.#d.onDrained(address.agentId, outbox),
      onAgentEnded: () => this.#d.onAgentEnded(address.agentId, outbox),
    });
    this.#outboxes.set(address.agentId, outbox);
    return outbox;
  }
}
