import { townEvents, type TownEventsOptions } from './events.ts';
import { ClientCredentialsTokenManager, StaticTokenSource, type FetchLike, type Logger, type TokenSource } from './token-manager.ts';
import { Transport } from './transport.ts';
import type {
  Agent,
  AgentEvents,
  Bead,
  Mail,
  PageOptions,
  TokenIssue,
  AgentRef,
  Created,
  MayorMessage,
  MayorMessageReceipt,
  RefreshReport,
  StartAgentInput,
  Town,
  TownSettings,
  TownSettingsUpdate,
  TownStreamItem,
  TownSummary,
} from './types.ts';

/**
 * Options of {@link GastownClient}. Give `clientId` + `clientSecret` (tokens are fetched and
 * renewed), or a static `token` (used as is until it expires), or your own `tokens` source.
 */
export interface GastownClientOptions {
  /** The Worker's base URL, e.g. `https://gastown.example.workers.dev`. */
  baseUrl: string;
  clientId?: string;
  clientSecret?: string;
  token?: string;
  tokens?: TokenSource;
  /** Used for every request, token requests included (default: the global `fetch`). */
  fetch?: FetchLike;
  /** The client's clock in ms (default `Date.now`). */
  now?: () => number;
  /** Receives the SDK's warnings (default `console`). */
  logger?: Logger;
}

const seg = encodeURIComponent;
/** The largest page `GET /api/towns` answers. */
const TOWNS_PAGE = 500;

/** A typed client of the Gastown user API. */
export class GastownClient {
  readonly baseUrl: string;
  readonly tokens: TokenSource;
  readonly #http: Transport;

  constructor(options: GastownClientOptions) {
    if (!options.baseUrl) throw new TypeError('baseUrl is required');
    const fetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const now = options.now ?? (() => Date.now());
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.tokens = options.tokens ?? tokenSourceFor(options, this.baseUrl, fetch, now);
    this.#http = new Transport(this.baseUrl, this.tokens, fetch, now);
  }

  /** All the caller's towns, oldest first (read page by page). */
  async listTowns(): Promise<TownSummary[]> {
    const towns: TownSummary[] = [];
    for (;;) {
      const query = { limit: TOWNS_PAGE, after: towns.at(-1)?.id };
      const page = (await this.#http.json<{ towns: TownSummary[] }>('GET', '/api/towns', { query })).towns;
      towns.push(...page);
      if (page.length < TOWNS_PAGE) return towns;
    }
  }

  createTown(name: string): Promise<Created> {
    return this.#http.json('POST', '/api/towns', { body: { name } });
  }

  /** The town with its rigs, agents (token times, heartbeats) and beads. */
  getTown(townId: string): Promise<Town> {
    return this.#http.json('GET', `/api/towns/${seg(townId)}`);
  }

  createRig(townId: string, rig: { name: string; gitUrl?: string }): Promise<Created> {
    return this.#http.json('POST', `/api/towns/${seg(townId)}/rigs`, { body: rig });
  }

  /** Dispatches an agent into the town's container. */
  startAgent(townId: string, rigId: string, input: StartAgentInput): Promise<AgentRef> {
    return this.#http.json('POST', `/api/towns/${seg(townId)}/rigs/${seg(rigId)}/agents`, { body: input });
  }

  /** Stops the agent and revokes its tokens. */
  stopAgent(townId: string, agentId: string): Promise<AgentRef> {
    return this.#http.json('POST', `/api/towns/${seg(townId)}/agents/${seg(agentId)}/stop`, { body: {} });
  }

  /** An agent's stored events, newest first. */
  agentEvents(townId: string, agentId: string, options: { limit?: number } = {}): Promise<AgentEvents> {
    return this.#http.json('GET', `/api/towns/${seg(townId)}/agents/${seg(agentId)}/events`, { query: { limit: options.limit } });
  }

  /** The town's default runtime and the names (never the values) of its agent environment. */
  getSettings(townId: string): Promise<TownSettings> {
    return this.#http.json('GET', `/api/towns/${seg(townId)}/settings`);
  }

  updateSettings(townId: string, update: TownSettingsUpdate): Promise<TownSettings> {
    return this.#http.json('PUT', `/api/towns/${seg(townId)}/settings`, { body: update });
  }

  /** Sends the mayor a message (starting the mayor if needed); replies arrive in {@link mayorMessages}. */
  sendMayorMessage(townId: string, text: string): Promise<MayorMessageReceipt> {
    return this.#http.json('POST', `/api/towns/${seg(townId)}/mayor/messages`, { body: { text } });
  }

  /** The conversation with the mayor after message id `after`, in order. */
  async mayorMessages(townId: string, options: { after?: number; limit?: number } = {}): Promise<MayorMessage[]> {
    const query = { after: options.after, limit: options.limit };
    return (await this.#http.json<{ messages: MayorMessage[] }>('GET', `/api/towns/${seg(townId)}/mayor/messages`, { query })).messages;
  }

  /** One page of the town's agents (creation order), optionally of one status. */
  async listAgents(townId: string, page: PageOptions = {}): Promise<Agent[]> {
    return (await this.#http.json<{ agents: Agent[] }>('GET', `/api/towns/${seg(townId)}/agents`, { query: { ...page } })).agents;
  }

  /** One page of the town's beads (creation order), optionally of one status. */
  async listBeads(townId: string, page: PageOptions = {}): Promise<Bead[]> {
    return (await this.#http.json<{ beads: Bead[] }>('GET', `/api/towns/${seg(townId)}/beads`, { query: { ...page } })).beads;
  }

  /** The tokens the town's agents were given over the last `hours` (newest `limit`, oldest first). */
  tokenHistory(townId: string, options: { hours?: number; limit?: number } = {}): Promise<{ tokens: TokenIssue[]; truncated: boolean }> {
    return this.#http.json('GET', `/api/towns/${seg(townId)}/token-history`, { query: { hours: options.hours, limit: options.limit } });
  }

  /** The town's most recent mail, newest first. */
  async mail(townId: string, options: { limit?: number } = {}): Promise<Mail[]> {
    return (await this.#http.json<{ mail: Mail[] }>('GET', `/api/towns/${seg(townId)}/mail`, { query: { limit: options.limit } })).mail;
  }

  /** Whether the Worker is up and configured (`GET /health`). */
  async health(): Promise<{ ok: boolean }> {
    return this.#http.json('GET', '/health');
  }

  /** Runs a token refresh pass now. */
  refreshTokens(townId: string): Promise<RefreshReport> {
    return this.#http.json('POST', `/api/towns/${seg(townId)}/refresh-tokens`, { body: {} });
  }

  /** The town's live events; see {@link townEvents} for reconnects, dedupe and gaps. */
  events(townId: string, options: TownEventsOptions = {}): AsyncGenerator<TownStreamItem, void, undefined> {
    return townEvents(this.#http, townId, options);
  }
}

function tokenSourceFor(options: GastownClientOptions, baseUrl: string, fetch: FetchLike, now: () => number): TokenSource {
  if (options.clientId || options.clientSecret) {
    if (!options.clientId || !options.clientSecret) throw new TypeError('clientId and clientSecret go together');
    return new ClientCredentialsTokenManager({ baseUrl, clientId: options.clientId, clientSecret: options.clientSecret, fetch, now });
  }
  if (options.token) return new StaticTokenSource(options.token, options.logger);
  throw new TypeError('give clientId and clientSecret, a token, or a tokens source');
}
