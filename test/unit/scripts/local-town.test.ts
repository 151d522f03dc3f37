import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutWorkerSecrets } from '../../../container/src/domain/worker-secrets.ts';
import { PortInUseError, prepareTownState, startLocalTown } from '../../../scripts/lib/local-town.ts';
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

describe('a local town\'s state dir', () => {
  it('wrangler\'s state (every town\'s SQLite, agentEnv values included) is the owner\'s alone: 0700, the vars file 0600, even where an earlier run left them open; agents may pass the dir (0711) but not read them', () => {
    const parent = mkdtempSync(join(tmpdir(), 'gastown-town-state-'));
    chmodSync(parent, 0o711);
    try {
      const stateDir = join(parent, 'state');
      // an earlier run's folders, open to everyone
      mkdirSync(join(stateDir, 'wrangler', 'v3', 'do'), { recursive: true, mode: 0o777 });
      chmodSync(join(stateDir, 'wrangler'), 0o777);
      const sqlite = join(stateDir, 'wrangler', 'v3', 'do', 'town.sqlite');
      writeFileSync(sqlite, 'agentEnv: ANTHROPIC_API_KEY=...', { mode: 0o644 });
      writeFileSync(join(stateDir, 'worker.env'), 'old', { mode: 0o644 });
      chmodSync(join(stateDir, 'worker.env'), 0o644);
      const { envFile, persistDir } = prepareTownState(stateDir, { GASTOWN_JWT_SECRET: 'x'.repeat(32) });
      const mode = (p: string) => statSync(p).mode & 0o777;
      expect([mode(stateDir), mode(persistDir), mode(envFile)]).toEqual([0o711, 0o700, 0o600]);
      expect(persistDir).toBe(join(stateDir, 'wrangler'));
      expect(readFileSync(envFile, 'utf8')).toContain('GASTOWN_JWT_SECRET');
      if (process.getuid?.() === 0) {
        // what an agent under a uid of its own meets (nobody)
        const probe = `const fs = require('fs'); const r = (p) => { try { fs.readFileSync(p); return 'read'; } catch (e) { return e.code; } }; console.log(JSON.stringify([r(${JSON.stringify(sqlite)}), r(${JSON.stringify(envFile)})]));`;
        const out = spawnSync(process.execPath, ['-e', probe], { uid: 65534, gid: 65534, encoding: 'utf8' });
        expect(JSON.parse(out.stdout)).toEqual(['EACCES', 'EACCES']);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
