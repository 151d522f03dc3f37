import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutWorkerSecrets } from '../../../container/src/domain/worker-secrets.ts';
import { PortInUseError, startLocalTown } from '../../../scripts/lib/local-town.ts';
import { freePort, portInUse } from '../../../scripts/lib/ports.ts';

/** `npm start` twice: the second must refuse, not report the first town's health as its own. */
describe('a local town whose port is taken', () => {
  let taken: Server;
  let takenPort: number;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    takenPort = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => taken.close(() => r())));

  it('portInUse tells a taken port from a free one', async () => {
    expect(await portInUse(takenPort, '127.0.0.1')).toBe(true);
    expect(await portInUse(takenPort, '0.0.0.0')).toBe(true);
    expect(await portInUse(await freePort(), '127.0.0.1')).toBe(false);
  });

  it('freePort never hands out the same port twice (a town asks for two in a row)', async () => {
    // the OS offers a just-closed port again now and then: over 500 draws a repeat is all but certain
    const ports = [];
    for (let i = 0; i < 500; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it.each([
    ['worker', (p: number, free: number) => ({ port: p, containerPort: free })],
    ['control', (p: number, free: number) => ({ port: free, containerPort: p })],
  ] as const)('the %s port taken: PortInUseError naming it, before anything is started or written', async (role, ports) => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'gastown-ports-')), 'state');
    const attempt = startLocalTown({ ...ports(takenPort, await freePort()), vars: {}, stateDir });
    await expect(attempt).rejects.toThrow(PortInUseError);
    await expect(attempt).rejects.toMatchObject({ port: takenPort, role });
    expect(existsSync(stateDir)).toBe(false);
  });
});

describe('the local control server environment', () => {
  it('never holds the Worker secrets, even when npm start was given them (its agents inherit it)', () => {
    const env = withoutWorkerSecrets({ PATH: '/bin', GASTOWN_JWT_SECRET: 'a', GASTOWN_JWT_SECRET_PREVIOUS: 'b', GASTOWN_CLIENT_SECRET: 'c', GASTOWN_CLIENT_ID: 'id', AGENT_TOKEN_TTL_SECONDS: '30' });
    expect(env).toEqual({ PATH: '/bin', GASTOWN_CLIENT_ID: 'id', AGENT_TOKEN_TTL_SECONDS: '30' });
  });

  it('a town without a local control server needs the URL of one', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'gastown-ext-')), 'state');
    await expect(startLocalTown({ port: await freePort(), containerPort: await freePort(), vars: {}, stateDir, controlServer: false })).rejects.toThrow(/workerContainerUrl/);
  });
});
