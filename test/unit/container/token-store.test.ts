import { describe, expect, it } from 'vitest';
import { TokenStore } from '../../../container/src/managers/token-store.ts';
import { backoffDelayMs } from '../../../container/src/domain/backoff.ts';

const jwt = (claims: Record<string, unknown>) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;
const tok = (iat: number, exp: number, extra: Record<string, unknown> = {}) => jwt({ agentId: 'a1', townId: 't1', iat, exp, ...extra });

describe('token store: one token per agent, newer only', () => {
  it.each([
    ['newer iat', tok(100, 700), tok(200, 800), 200],
    ['same iat, later exp', tok(100, 700), tok(100, 800), 200],
    ['older iat', tok(200, 800), tok(100, 700), 409],
    ['same iat, same exp, other token', tok(100, 700, { jti: 'x' }), tok(100, 700, { jti: 'y' }), 409],
    ['identical token again', tok(100, 700), tok(100, 700), 200],
    ['another agent', tok(100, 700), jwt({ agentId: 'a2', townId: 't1', iat: 200, exp: 800 }), 400],
    ['another town', tok(100, 700), jwt({ agentId: 'a1', townId: 't2', iat: 200, exp: 800 }), 400],
    ['garbage', tok(100, 700), 'not-a-token', 400],
    ['no iat', tok(100, 700), jwt({ agentId: 'a1', townId: 't1', exp: 800 }), 400],
  ])('%s → %i', (_name, first, second, status) => {
    const store = new TokenStore();
    store.register('a1', 't1');
    expect(store.offer('a1', first).status).toBe(200);
    expect(store.offer('a1', second).status).toBe(status);
    expect(store.token('a1')).toBe(status === 200 ? second : first);
  });

  it('unknown agent → 404; forget releases the entry', () => {
    const store = new TokenStore();
    expect(store.offer('a1', tok(1, 2)).status).toBe(404);
    store.register('a1', 't1');
    store.forget('a1');
    expect(store.size).toBe(0);
  });
});

describe('backoff', () => {
  it.each([
    [0, 0.999, 199],
    [3, 0.999, 1598],
    [10, 0.999, 4995],
    [10, 0, 50],
  ])('attempt %i, random %f → %i ms (capped at 5 s, full jitter)', (attempt, random, ms) => {
    expect(backoffDelayMs(attempt, random)).toBe(ms);
  });
});
