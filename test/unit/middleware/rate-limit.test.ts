import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { limitByAddress } from '../../../src/middleware/rate-limit';

afterEach(() => {
  vi.restoreAllMocks();
  vi.resetModules();
});

/** An app whose one route takes one attempt against `limiter` (undefined: the binding is missing). */
function appWith(limit: typeof limitByAddress, limiter: RateLimit | undefined) {
  return new Hono().post('/', async (c) => {
    await limit(c, limiter, 'token endpoint');
    return c.text('ok');
  });
}

describe('rate limiting by client address', () => {
  it('without the AUTH_LIMITER binding nothing is limited, and that is said once, naming no secret', async () => {
    const { limitByAddress: fresh } = await import('../../../src/middleware/rate-limit');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const app = appWith(fresh, undefined);
    for (let i = 0; i < 3; i++) expect((await app.request('/', { method: 'POST', headers: { 'cf-connecting-ip': '10.0.0.1', authorization: 'Bearer secret-value' } })).status).toBe(200);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/rate limiting is off.*AUTH_LIMITER/);
    expect(String(warn.mock.calls[0]![0])).not.toContain('secret-value');
  });

  it('with the binding, an address over its limit is a 429 with Retry-After, and nothing is said about a missing binding', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const keys: string[] = [];
    const limiter = { limit: async ({ key }: { key: string }) => (keys.push(key), { success: keys.length <= 1 }) } as RateLimit;
    const app = appWith(limitByAddress, limiter).onError((err, c) => c.json({ code: (err as { code?: string }).code, retryAfter: (err as { retryAfter?: number }).retryAfter }, 429));
    expect((await app.request('/', { method: 'POST', headers: { 'cf-connecting-ip': '10.0.0.2' } })).status).toBe(200);
    const refused = await app.request('/', { method: 'POST', headers: { 'cf-connecting-ip': '10.0.0.2' } });
    expect(await refused.json()).toMatchObject({ code: 'rate_limited', retryAfter: 60 });
    expect(keys).toEqual(['10.0.0.2', '10.0.0.2']);
    expect(warn).not.toHaveBeenCalled();
  });
});
