import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { GastownClient, GastownError, isGap, type TownStreamItem } from '../../sdk/index.ts';
import { ORIGIN } from './helpers';
import { TEST_SECRETS } from './secrets';

/**
 * The SDK running inside workerd, as a Worker would use it, against the real Worker: its
 * fetch is the Worker's own entry (what a service binding gives), every request counted.
 */
function workerClient(clientSecret: string = TEST_SECRETS.GASTOWN_CLIENT_SECRET) {
  const seen: string[] = [];
  const address = `10.66.${Math.floor(Math.random() * 256)}.${Math.floor(Math.random() * 256)}`;
  const client = new GastownClient({
    baseUrl: ORIGIN,
    clientId: TEST_SECRETS.GASTOWN_CLIENT_ID,
    clientSecret,
    fetch: (input, init) => {
      const request = new Request(input, init);
      // the token endpoint is rate limited per client address: this client has one of its own
      request.headers.set('cf-connecting-ip', address);
      seen.push(`${request.method} ${new URL(request.url).pathname}`);
      return exports.default.fetch(request);
    },
  });
  return { client, seen };
}

describe('the SDK inside a Worker (workerd), against the real Worker', () => {
  it('one client-credentials token serves typed calls and an events() read', async () => {
    const { client, seen } = workerClient();
    expect(await client.health()).toEqual({ ok: true });
    const town = await client.createTown('from a worker');
    expect(town).toMatchObject({ id: expect.stringMatching(/^town-/), name: 'from a worker' });
    const rig = await client.createRig(town.id, { name: 'main' });
    expect((await client.listTowns()).some((t) => t.id === town.id)).toBe(true);
    const view = await client.getTown(town.id);
    expect(view.rigs.map((r) => r.id)).toEqual([rig.id]);
    expect(await client.updateSettings(town.id, { runtime: 'builtin' })).toMatchObject({ runtime: 'builtin' });

    const items: TownStreamItem[] = [];
    for await (const item of client.events(town.id)) {
      items.push(item);
      if (!isGap(item) && item.type === 'settings.updated') break;
    }
    expect(items.some(isGap)).toBe(false);
    const ids = items.map((i) => (isGap(i) ? 0 : i.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(items.at(-1)).toMatchObject({ type: 'settings.updated', data: { runtime: 'builtin' } });

    expect(seen.filter((r) => r === 'POST /api/auth/token')).toHaveLength(1);
  });

  it('a failure is a typed GastownError with the Worker’s status and code, and no token in its message', async () => {
    const { client } = workerClient();
    const missing = await client.getTown('town-00000000-0000-4000-8000-000000000000').catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(GastownError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found' });
    expect(String((missing as Error).message)).not.toMatch(/eyJ/);

    const refused = workerClient('not-the-secret-at-all').client;
    const error = await refused.listTowns().catch((err: unknown) => err);
    expect(error).toBeInstanceOf(GastownError);
    expect(error).toMatchObject({ status: 401 });
    expect(String((error as Error).message)).not.toContain('not-the-secret-at-all');
  });
});
