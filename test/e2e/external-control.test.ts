import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GastownApi } from '../../scripts/lib/gastown-api.ts';
import { startLocalTown, type LocalTown } from '../../scripts/lib/local-town.ts';
import { freePort } from '../../scripts/lib/ports.ts';
import { startControlHarness } from '../workers/control-harness.ts';

/** `CONTAINER_URL=... npm start`: the real Worker drives a control server someone else runs (a test harness's real control server here). */
describe('a local town on a control server of its own choosing', () => {
  const control = randomBytes(24).toString('base64url');
  const vars = { GASTOWN_JWT_SECRET: randomBytes(36).toString('base64url'), CONTAINER_CONTROL_SECRET: control, GASTOWN_CLIENT_ID: 'ext', GASTOWN_CLIENT_SECRET: randomBytes(24).toString('base64url') };
  let external: Awaited<ReturnType<typeof startControlHarness>>;
  let town: LocalTown;
  let stateDir: string;
  let containerPort: number;
  beforeAll(async () => {
    external = await startControlHarness(control);
    stateDir = mkdtempSync(join(tmpdir(), 'gastown-ext-'));
    containerPort = await freePort();
    town = await startLocalTown({ port: await freePort(), containerPort, vars, stateDir, controlServer: false, workerContainerUrl: `http://127.0.0.1:${external.proxyPort}` });
  }, 120_000);
  afterAll(async () => {
    await town?.stop();
    await external?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts no control server, and the Worker dispatches to the given one', async () => {
    expect(town.containerUrl).toBe(`http://127.0.0.1:${external.proxyPort}`);
    // the port itself may be taken by then (workerd binds ephemeral ports): ask for a control server with this town's secret
    expect(await controlServerAt(containerPort, control)).toBe(false);
    const api = new GastownApi(town.workerUrl, vars.GASTOWN_CLIENT_ID, vars.GASTOWN_CLIENT_SECRET);
    const { id: townId } = await api.createTown('ext');
    const rig = await api.createRig(townId, 'main');
    const agent = await api.dispatch(townId, rig.id, 'polecat');
    const seen = (await (await fetch(`http://127.0.0.1:${external.proxyPort}/__harness/seen?townId=${townId}`)).json()) as Array<{ path: string; agentIds: string[]; status: number }>;
    expect(seen[0]).toEqual(expect.objectContaining({ path: '/agents/start', agentIds: [agent.id], status: 201 }));
    await expect(town.restartControl()).rejects.toThrow(/no local control server/);
  });
});

/** Whether a control server holding `secret` answers on `port` (its authenticated /stats). Anything else there, or nothing, is no. */
async function controlServerAt(port: number, secret: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/stats`, { headers: { authorization: `Bearer ${secret}` }, signal: AbortSignal.timeout(3_000) });
    const body = (await res.json().catch(() => null)) as { tokensHeld?: unknown } | null;
    return res.ok && typeof body?.tokensHeld === 'number';
  } catch {
    return false;
  }
}
