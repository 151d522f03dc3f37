import { describe, expect, it } from 'vitest';
import { ClientCredentialsTokenManager, GastownClient, GastownError, StaticTokenSource } from '../../../sdk/index.ts';
import { fakeApi, type EndpointMode } from './fake-api.ts';

const HOUR_S = 3_600;
const T0 = Date.UTC(2030, 0, 1);

/** One step of a scenario, run against a manager with an injected clock and a fake Worker. */
type Step =
  | { get: string | { error: string } }
  | { advance: number }
  | { endpoint: EndpointMode }
  | { requests: number }
  | { concurrent: number; all: string }
  | { refuse: string }
  | { call: 'ok' | { error: number }; used: string[] }
  | { concurrentCalls: number; used: string[] };

interface Case {
  name: string;
  expiresIn: number;
  /** Server clock minus client clock. */
  skewMs?: number;
  steps: Step[];
}

const s = (ms: number) => ms * 1000;

const cases: Case[] = [
  { name: 'fresh: the cached token is used without a request', expiresIn: HOUR_S, steps: [{ get: 't1' }, { advance: s(3_299) }, { get: 't1' }, { requests: 1 }] },
  {
    name: 'inside the refresh buffer (5 min of a 1 h token): refreshed before expiry',
    expiresIn: HOUR_S,
    steps: [{ get: 't1' }, { advance: s(3_300) }, { get: 't2' }, { get: 't2' }, { requests: 2 }],
  },
  {
    name: 'short lifetime: the buffer is a fifth of it (2 s of 10 s)',
    expiresIn: 10,
    steps: [{ get: 't1' }, { advance: 7_999 }, { get: 't1' }, { advance: 1 }, { get: 't2' }, { requests: 2 }],
  },
  { name: 'expired: a new token before the call', expiresIn: HOUR_S, steps: [{ get: 't1' }, { advance: s(HOUR_S) }, { get: 't2' }, { requests: 2 }] },
  {
    name: 'refresh failing inside the buffer: the old token is used, attempts back off 1 s, 2 s, 4 s',
    expiresIn: HOUR_S,
    steps: [
      { get: 't1' },
      { advance: s(3_400) },
      { endpoint: 'fail' },
      { get: 't1' },
      { requests: 2 },
      { get: 't1' },
      { advance: 999 },
      { get: 't1' },
      { requests: 2 },
      { advance: 1 },
      { get: 't1' },
      { requests: 3 },
      { advance: 1_999 },
      { get: 't1' },
      { requests: 3 },
      { advance: 1 },
      { endpoint: 'network' },
      { get: 't1' },
      { requests: 4 },
      { advance: 4_000 },
      { endpoint: 'ok' },
      { get: 't2' },
      { requests: 5 },
    ],
  },
  {
    name: 'refresh failing until expiry: the error reaches the caller once the old token is expired',
    expiresIn: HOUR_S,
    steps: [{ get: 't1' }, { endpoint: 'fail' }, { advance: s(HOUR_S) }, { get: { error: 'internal' } }, { endpoint: 'ok' }, { get: 't2' }],
  },
  {
    name: 'client clock 2 h ahead of the server: the token is not taken for expired',
    expiresIn: HOUR_S,
    skewMs: -s(7_200),
    steps: [{ get: 't1' }, { advance: s(3_000) }, { get: 't1' }, { requests: 1 }, { advance: s(300) }, { get: 't2' }],
  },
  {
    name: 'client clock 2 h behind the server: the token is still refreshed before it expires',
    expiresIn: HOUR_S,
    skewMs: s(7_200),
    steps: [{ get: 't1' }, { advance: s(3_300) }, { get: 't2' }, { requests: 2 }],
  },
  {
    name: '100 concurrent callers at the moment of expiry: one token request',
    expiresIn: HOUR_S,
    steps: [{ get: 't1' }, { advance: s(HOUR_S) }, { concurrent: 100, all: 't2' }, { requests: 2 }],
  },
  { name: '100 concurrent callers before any token: one token request', expiresIn: HOUR_S, steps: [{ concurrent: 100, all: 't1' }, { requests: 1 }] },
  {
    name: 'a 401 from the API: one refresh and one retry',
    expiresIn: HOUR_S,
    steps: [{ call: 'ok', used: ['t1'] }, { refuse: 't1' }, { call: 'ok', used: ['t1', 't2'] }, { requests: 2 }],
  },
  {
    name: '20 concurrent calls refused with the same token: one refresh, each retried once',
    expiresIn: HOUR_S,
    steps: [{ get: 't1' }, { refuse: 't1' }, { concurrentCalls: 20, used: [...Array(20).fill('t1'), ...Array(20).fill('t2')] }, { requests: 2 }],
  },
  {
    name: 'a 401 on the retry too: the error, not a second retry',
    expiresIn: HOUR_S,
    steps: [{ get: 't1' }, { refuse: 't1' }, { refuse: 't2' }, { call: { error: 401 }, used: ['t1', 't2'] }, { requests: 2 }],
  },
  {
    name: 'invalid client credentials: a 401 error, no token',
    expiresIn: HOUR_S,
    steps: [{ endpoint: 'invalid_client' }, { get: { error: 'unauthorized' } }, { requests: 1 }],
  },
];

describe('client-credentials token manager', () => {
  it.each(cases)('$name', async ({ expiresIn, skewMs = 0, steps }) => {
    let now = T0;
    const api = fakeApi({ expiresIn, serverNow: () => now + skewMs });
    const manager = new ClientCredentialsTokenManager({ baseUrl: 'http://gastown.test', clientId: 'me', clientSecret: 'secret-value', fetch: api.fetch, now: () => now });
    const client = new GastownClient({ baseUrl: 'http://gastown.test', tokens: manager, fetch: api.fetch, now: () => now });
    const call = () => client.getTown('town-1');
    for (const step of steps) {
      if ('advance' in step) now += step.advance;
      else if ('endpoint' in step) api.state.mode = step.endpoint;
      else if ('requests' in step) expect(api.state.tokenRequests, 'token requests').toBe(step.requests);
      else if ('refuse' in step) api.state.refused.add(step.refuse);
      else if ('get' in step) {
        if (typeof step.get === 'string') expect(api.nameOf(await manager.getToken())).toBe(step.get);
        else await expect(manager.getToken()).rejects.toMatchObject({ name: 'GastownError', code: step.get.error });
      } else if ('concurrent' in step) {
        const tokens = await Promise.all(Array.from({ length: step.concurrent }, () => manager.getToken()));
        expect(new Set(tokens.map(api.nameOf))).toEqual(new Set([step.all]));
      } else if ('concurrentCalls' in step) {
        api.state.apiTokens.length = 0;
        await Promise.all(Array.from({ length: step.concurrentCalls }, call));
        expect(api.state.apiTokens.sort()).toEqual(step.used);
      } else if ('call' in step) {
        api.state.apiTokens.length = 0;
        if (step.call === 'ok') await call();
        else await expect(call()).rejects.toMatchObject({ status: step.call.error });
        expect(api.state.apiTokens).toEqual(step.used);
      }
    }
  });
});

describe('static token', () => {
  it('warns once that it will expire and cannot be renewed; a 401 is the caller’s error, without the token', async () => {
    const warnings: string[] = [];
    const api = fakeApi({ expiresIn: HOUR_S, serverNow: () => T0 });
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln';
    const client = new GastownClient({ baseUrl: 'http://gastown.test', token, fetch: api.fetch, logger: { warn: (m) => warnings.push(m) } });
    await client.getTown('a');
    await client.getTown('b');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/static access token.*expire.*nothing can renew/);
    api.state.refused.add(token);
    const error = await client.getTown('c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GastownError);
    expect(error).toMatchObject({ status: 401, code: 'token_expired' });
    expect(String((error as Error).message)).not.toContain(token);
    expect(api.state.apiTokens).toHaveLength(3);
    expect(api.state.tokenRequests).toBe(0);
    expect(new StaticTokenSource(token, { warn: () => {} }).renewable).toBe(false);
  });
});
