import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isolationPlan, startPlan } from '../../../scripts/lib/start-plan.ts';

const FILE = { GASTOWN_JWT_SECRET: 'file-jwt-secret', CONTAINER_CONTROL_SECRET: 'file-control', GASTOWN_CLIENT_ID: 'local-dev', GASTOWN_CLIENT_SECRET: 'file-client-secret' };

describe('npm start: what runs, from .dev.vars and the environment', () => {
  it('by default: .dev.vars, a local control server, a token command reading the secret from .dev.vars', () => {
    const plan = startPlan(FILE, {});
    expect(plan.vars).toEqual(FILE);
    expect(plan.externalControlUrl).toBeNull();
    const cmd = plan.tokenCommand('http://127.0.0.1:8787');
    expect(cmd).toContain("client_secret=$(grep GASTOWN_CLIENT_SECRET .dev.vars | cut -d'\"' -f2)");
    expect(cmd).not.toContain('file-client-secret');
  });

  it('every contract variable set in the environment wins, secrets included; the token command then reads the secret from the environment', () => {
    const env = { GASTOWN_CLIENT_SECRET: 'env-client-secret', GASTOWN_JWT_SECRET: 'env-jwt-secret-0123456789abcdef012345', AGENT_TOKEN_TTL_SECONDS: '30', UNRELATED: 'x' };
    const plan = startPlan(FILE, env);
    expect(plan.vars).toMatchObject({ GASTOWN_CLIENT_SECRET: 'env-client-secret', GASTOWN_JWT_SECRET: env.GASTOWN_JWT_SECRET, AGENT_TOKEN_TTL_SECONDS: '30' });
    expect(plan.vars).not.toHaveProperty('UNRELATED');
    const cmd = plan.tokenCommand('http://127.0.0.1:8787');
    expect(cmd).toContain('client_secret="$GASTOWN_CLIENT_SECRET"');
    expect(cmd).not.toContain('env-client-secret');
  });

  it('CONTAINER_URL in the environment (or .dev.vars): the Worker uses that control server and none is started', () => {
    expect(startPlan(FILE, { CONTAINER_URL: 'http://127.0.0.1:9999/' }).externalControlUrl).toBe('http://127.0.0.1:9999');
    expect(startPlan({ ...FILE, CONTAINER_URL: 'http://10.0.0.2:8080' }, {}).externalControlUrl).toBe('http://10.0.0.2:8080');
  });
});

describe('the names npm start takes from the environment', () => {
  it('are every name the Worker configuration reads', async () => {
    const { CONFIG_NAMES: worker } = await import('../../../src/domain/config');
    const { CONFIG_NAMES: local } = await import('../../../scripts/lib/dev-secrets.ts');
    expect([...local].sort()).toEqual([...worker].sort());
  });
});

describe('whether npm start can isolate agents', () => {
  it.each([
    ['as root, from a checkout other users can enter', 0, 0o755, true],
    ['as root, from a checkout inside a folder only root can enter (agents could not run it)', 0, 0o700, false],
    ['as another user (it cannot give uids)', 1000, 0o755, false],
  ])('%s', (_name, uid, parentMode, isolate) => {
    const parent = mkdtempSync(join(tmpdir(), 'gastown-plan-'));
    chmodSync(parent, parentMode);
    const checkout = join(parent, 'gastown');
    mkdirSync(join(checkout, 'container'), { recursive: true });
    try {
      const plan = isolationPlan(checkout, uid);
      expect(plan.isolate).toBe(isolate);
      expect(plan.closed).toBe(uid === 0 && !isolate ? parent : null);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
