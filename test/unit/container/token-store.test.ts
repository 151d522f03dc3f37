import { describe, expect, it } from 'vitest';
import { TokenStore } from '../../../container/src/managers/token-store.ts';

const jwt = (claims: Record<string, unknown>) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const tok = (iat: number, exp: number, extra: Record<string, unknown> = {}) => jwt({ agentId: 'a1', townId: 't1', iat, exp, ...extra });

/** A clock the test moves by hand. */
const fakeClock = (start: number) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('token ordering: one token per agent, newer only (gen, then iat, then exp); a future iat is refused', () => {
  it.each([
    ['newer iat', 200, tok(100, 700), tok(200, 800)],
    ['newer iat, earlier exp', 200, tok(100, 900), tok(200, 800)],
    ['same iat, later exp', 200, tok(100, 700), tok(100, 800)],
    ['older iat', 409, tok(200, 800), tok(100, 700)],
    ['older iat, later exp', 409, tok(200, 800), tok(100, 9_000)],
    ['same iat, earlier exp', 409, tok(100, 800), tok(100, 700)],
    // two mints in the same second (the alarm and a mayor message): equal age is not older
    ['same iat, same exp, other token', 200, tok(100, 700, { jti: 'x' }), tok(100, 700, { jti: 'y' })],
    ['identical token again', 200, tok(100, 700), tok(100, 700)],
    ['sub names the agent (no agentId claim)', 200, tok(100, 700), jwt({ sub: 'a1', townId: 't1', iat: 200, exp: 800 })],
    ['another agent', 400, tok(100, 700), jwt({ agentId: 'a2', townId: 't1', iat: 200, exp: 800 })],
    ['another town', 400, tok(100, 700), jwt({ agentId: 'a1', townId: 't2', iat: 200, exp: 800 })],
    ['garbage', 400, tok(100, 700), 'not-a-token'],
    ['two parts', 400, tok(100, 700), 'eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ'],
    ['payload not JSON', 400, tok(100, 700), 'eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2ln'],
    ['no iat', 400, tok(100, 700), jwt({ agentId: 'a1', townId: 't1', exp: 800 })],
    ['exp a string', 400, tok(100, 700), jwt({ agentId: 'a1', townId: 't1', iat: 200, exp: '800' })],
    ['not a string', 400, tok(100, 700), 42],
    // a restarted agent's generation supersedes the previous one's whatever their times
    ['newer gen, older iat', 200, tok(200, 800, { gen: 1 }), tok(100, 700, { gen: 2 })],
    ['older gen, newer iat', 409, tok(100, 700, { gen: 2 }), tok(200, 800, { gen: 1 })],
    ['gen absent counts as 0: gen 1 is newer', 200, tok(200, 800), tok(100, 700, { gen: 1 })],
    ['gen absent counts as 0: older than gen 1', 409, tok(100, 700, { gen: 1 }), tok(200, 800)],
    ['same gen, older iat', 409, tok(200, 800, { gen: 3 }), tok(100, 900, { gen: 3 })],
    ['gen not a number', 400, tok(100, 700), tok(200, 800, { gen: 'two' })],
    // the clock below is 10,000 s: 30 s of skew is allowed, more is refused
    ['future iat: 30 s ahead of this clock is allowed', 200, tok(100, 700), tok(10_030, 10_600)],
    ['future iat: 31 s ahead of this clock', 400, tok(100, 700), tok(10_031, 10_600)],
  ])('%s → %i (store unchanged unless 200)', (_name, status, first, second) => {
    const store = new TokenStore(fakeClock(10_000_000).now);
    store.register('a1', 't1');
    expect(store.offer('a1', first).status).toBe(200);
    expect(store.offer('a1', second).status).toBe(status);
    expect(store.token('a1')).toBe(status === 200 ? second : first);
    expect(store.size).toBe(1);
  });

  it('an equal-age token replaces the held one and dates a new acceptance; an older one is still refused', () => {
    const clock = fakeClock(1_000_000);
    const store = new TokenStore(clock.now);
    store.register('a1', 't1');
    const [x, y] = [tok(1_000, 1_600, { jti: 'x' }), tok(1_000, 1_600, { jti: 'y' })];
    store.offer('a1', x);
    clock.advance(1_000);
    expect(store.offer('a1', y)).toMatchObject({ status: 200, changed: true });
    expect(store.acceptedAt('a1')).toBe(1_001_000);
    expect(store.offer('a1', y)).toMatchObject({ status: 200, changed: false });
    expect(store.offer('a1', tok(999, 1_600, { jti: 'z' })).status).toBe(409);
    expect(store.token('a1')).toBe(y);
  });

  it('an already expired (but newer) token is still taken: the clock only refuses tokens from the future', () => {
    const clock = fakeClock(10_000_000);
    const store = new TokenStore(clock.now);
    store.register('a1', 't1');
    expect(store.offer('a1', tok(100, 700)).status).toBe(200);
    expect(store.expiresInMs('a1')).toBe(700_000 - 10_000_000);
  });

  it('a 409 says what is held (gen, iat, exp), never the token', () => {
    const store = new TokenStore(fakeClock(10_000_000).now);
    store.register('a1', 't1');
    const held = tok(500, 1_100, { gen: 4 });
    store.offer('a1', held);
    const refused = store.offer('a1', tok(600, 1_200, { gen: 3 }));
    expect(refused).toEqual({ status: 409, held: { gen: 4, iat: 500, exp: 1_100 } });
    expect(JSON.stringify(refused)).not.toContain(held);
  });

  it('dates acceptance and reports time left by the injected clock', () => {
    const clock = fakeClock(1_100_000);
    const store = new TokenStore(clock.now);
    store.register('a1', 't1');
    expect(store.acceptedAt('a1')).toBeNull();
    expect(store.expiresInMs('a1')).toBeNull();
    store.offer('a1', tok(1_000, 1_600));
    expect(store.acceptedAt('a1')).toBe(1_100_000);
    expect(store.expiresInMs('a1')).toBe(500_000);
    clock.advance(50_000);
    store.offer('a1', tok(1_000, 1_600)); // identical: not a new acceptance
    expect(store.acceptedAt('a1')).toBe(1_100_000);
    store.offer('a1', tok(1_050, 1_650));
    expect(store.acceptedAt('a1')).toBe(1_150_000);
    expect(store.expiresInMs('a1')).toBe(500_000);
  });

  it('unknown agent → 404; agents never share an entry; forget releases it', () => {
    const store = new TokenStore();
    expect(store.offer('a1', tok(1, 2)).status).toBe(404);
    store.register('a1', 't1');
    store.register('a2', 't1');
    store.offer('a1', tok(1, 2));
    store.offer('a2', jwt({ agentId: 'a2', townId: 't1', iat: 5, exp: 9 }));
    expect(store.token('a1')).not.toBe(store.token('a2'));
    store.forget('a1');
    expect(store.token('a1')).toBeNull();
    expect(store.size).toBe(1);
    store.forget('a2');
    expect(store.size).toBe(0);
  });
});
