import { randomBytes } from 'node:crypto';
import { createParser } from 'eventsource-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientCredentialsTokenManager, GastownClient, isGap, type FetchLike, type ReconnectInfo, type TownStreamEvent, type TownStreamItem } from '../../sdk/index.ts';
import { startTownFixture, type TownFixture } from './local-town-fixture.ts';

const TTL_SECONDS = 3;
const LIFETIMES = 10;
const CLIENT_ID = 'sdk-e2e';
const CUT_AFTER_MS = 4_000;
const CLIENT_SECRET = randomBytes(24).toString('base64url');

/**
 * The SDK against a real local town whose user access tokens live 3 s: the event stream is
 * followed across ten lifetimes, cut by the network every few seconds, while the mayor is
 * kept busy; calls made the moment a token expires share one token request.
 */
describe('SDK against a local town with 3 s access tokens', () => {
  let f: TownFixture;
  let client: GastownClient;
  let tokens: ClientCredentialsTokenManager;
  let townId: string;
  const tokenRequests: number[] = [];
  let streamCuts = 0;
  let refused = 0;
  const countRefused = (res: Response) => {
    if (res.status === 401) refused++;
    return res;
  };

  beforeAll(async () => {
    f = await startTownFixture({ vars: { USER_TOKEN_TTL_SECONDS: String(TTL_SECONDS), GASTOWN_CLIENT_ID: CLIENT_ID, GASTOWN_CLIENT_SECRET: CLIENT_SECRET } });
    // The network between the SDK and the Worker: counts token requests, and cuts every
    // event stream after CUT_AFTER_MS, so the stream is reopened on fresh tokens many times.
    const counting: FetchLike = async (url, init) => {
      if (url.endsWith('/api/auth/token')) tokenRequests.push(Date.now());
      if (!url.endsWith('/events')) return countRefused(await fetch(url, init));
      const cut = new AbortController();
      setTimeout(() => {
        streamCuts++;
        cut.abort();
      }, CUT_AFTER_MS);
      return countRefused(await fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, cut.signal]) : cut.signal }));
    };
    tokens = new ClientCredentialsTokenManager({ baseUrl: f.town.workerUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, fetch: counting });
    client = new GastownClient({ baseUrl: f.town.workerUrl, tokens, fetch: counting });
    townId = (await client.createTown('sdk-e2e')).id;
    await client.createRig(townId, { name: 'main' });
  });
  afterAll(async () => f?.close());

  it(`the Worker issues ${TTL_SECONDS} s access tokens (USER_TOKEN_TTL_SECONDS)`, async () => {
    await tokens.getToken();
    expect(tokens.expiresAt! - Date.now()).toBeLessThanOrEqual(TTL_SECONDS * 1000);
  });

  it(`events() follows the town for ${LIFETIMES} token lifetimes, its stream cut every ${CUT_AFTER_MS / 1000} s, while agents work: no gap, no duplicate, no error, equal to the server's log`, async () => {
    const controller = new AbortController();
    const seen: TownStreamItem[] = [];
    const reconnects: ReconnectInfo[] = [];
    const requestsBefore = tokenRequests.length;
    const reading = (async () => {
      for await (const item of client.events(townId, { signal: controller.signal, onReconnect: (r) => void reconnects.push(r) })) seen.push(item);
    })();

    const started = Date.now();
    const windowMs = LIFETIMES * TTL_SECONDS * 1000 + 1000;
    let messages = 0;
    while (Date.now() - started < windowMs) {
      const receipt = await client.sendMayorMessage(townId, `task ${++messages}: keep the build green`);
      expect(receipt.delivered).toBe(true);
      await new Promise((r) => setTimeout(r, 4_000));
    }
    // let the last message's work reach the stream, then stop
    await new Promise((r) => setTimeout(r, 2_000));
    controller.abort();
    await reading;

    const events = seen.filter((i): i is TownStreamEvent => !isGap(i));
    expect(seen.filter(isGap)).toEqual([]);
    const ids = events.map((e) => e.id);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(events.filter((e) => e.type === 'mayor.message')).toHaveLength(messages);
    expect(events.some((e) => e.type === 'bead.created')).toBe(true);
    expect(events.some((e) => e.type === 'agent.started' && (e.data as { role?: string }).role === 'polecat')).toBe(true);

    // the server's stored log for the same window, read independently (raw fetch + parser)
    const stored = await storedTownEvents(f.town.workerUrl, townId, await tokens.getToken(), ids[0]! - 1, ids.at(-1)!);
    expect(events).toEqual(stored);

    // every cut stream was reopened (after the last event it had yielded), on a current token
    expect(reconnects.length).toBeGreaterThanOrEqual(Math.floor(windowMs / CUT_AFTER_MS) - 1);
    expect(reconnects.filter((r) => r.reason !== 'network_error' && r.reason !== 'ended' && r.reason !== 'unauthorized')).toEqual([]);
    expect(reconnects.filter((r) => r.reason === 'network_error').length).toBeLessThanOrEqual(streamCuts);
    // tokens are fetched on demand, so not once per lifetime; but renewed throughout the
    // window, and never one sent that the Worker refused
    expect(tokenRequests.length - requestsBefore).toBeGreaterThanOrEqual(LIFETIMES / 2);
    expect(refused).toBe(0);
  });

  it('typed methods for the listings: agents and beads by page and status, the token history, mail, health', async () => {
    expect(await client.health()).toEqual({ ok: true });
    const agents = await client.listAgents(townId, { limit: 500 });
    expect(agents.length).toBeGreaterThan(1);
    const first = await client.listAgents(townId, { limit: 1 });
    expect((await client.listAgents(townId, { limit: 1, after: first[0]!.id }))[0]?.id).toBe(agents[1]?.id);
    expect((await client.listAgents(townId, { status: 'working' })).every((a) => a.status === 'working')).toBe(true);
    expect((await client.listBeads(townId)).length).toBeGreaterThan(0);
    const history = await client.tokenHistory(townId, { hours: 1 });
    expect(history.tokens.some((t) => t.kind === 'start')).toBe(true);
    expect(JSON.stringify(history)).not.toMatch(/eyJ/);
    const mail = await client.mail(townId);
    expect(mail.every((m) => typeof m.from === 'string' && typeof m.to === 'string')).toBe(true);
  });

  it('100 concurrent calls at the moment the token expires make exactly one token request', async () => {
    await client.getTown(townId);
    const expiresAt = tokens.expiresAt!;
    // never wait for an hour-long token: this needs a Worker that honours USER_TOKEN_TTL_SECONDS
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 5)));
    const before = tokenRequests.length;
    const towns = await Promise.all(Array.from({ length: 100 }, () => client.getTown(townId)));
    expect(tokenRequests.length - before).toBe(1);
    expect(towns.every((t) => t.id === townId)).toBe(true);
  });
});

/** The town's stored events after `afterId` through `lastId`, straight from the SSE route. */
async function storedTownEvents(baseUrl: string, townId: string, token: string, afterId: number, lastId: number): Promise<TownStreamEvent[]> {
  const controller = new AbortController();
  const res = await fetch(`${baseUrl}/api/towns/${townId}/events`, {
    headers: { authorization: `Bearer ${token}`, 'last-event-id': String(afterId) },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const events: TownStreamEvent[] = [];
  const parser = createParser({
    onEvent: (m) => {
      if (m.id !== undefined) events.push({ id: Number(m.id), type: m.event ?? 'message', data: JSON.parse(m.data) });
    },
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  while (!events.some((e) => e.id >= lastId)) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  controller.abort();
  return events.filter((e) => e.id <= lastId);
}
