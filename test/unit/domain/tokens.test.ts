import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { MAX_EVENT_BYTES_PER_AGENT_CAP, readConfig } from '../../../src/domain/config';
import { nextRefreshAt, refreshPeriodMs, retryAt } from '../../../src/domain/refresh-policy';
import { importSigningKey, keyRing } from '../../../src/domain/signing-keys';
import { agentTokenGranted, mintAgentToken, verifyAgentToken } from '../../../src/domain/tokens';

const SECRET = 'unit-secret-0123456789abcdef0123456789abcdef';
const OLD = 'unit-old-secret-0123456789abcdef0123456789abcd';
const NOW = 1_800_000_000_000;
const subject = { agentId: 'polecat-1', rigId: 'rig-1', townId: 'town-1', userId: 'u', gen: 3 };

describe('agent tokens with an injected clock', () => {
  it('mints the contract claims and verifies them', async () => {
    const keys = await keyRing(SECRET);
    const { token, expiresAt } = await mintAgentToken(keys, subject, NOW, 600);
    expect(expiresAt).toBe(NOW + 600_000);
    const claims = await verifyAgentToken(keys, token, NOW + 1_000);
    expect(claims).toMatchObject({ sub: 'polecat-1', agentId: 'polecat-1', rigId: 'rig-1', townId: 'town-1', userId: 'u', gen: 3, iss: 'gastown', aud: 'gastown-agent' });
    expect(typeof claims.jti).toBe('string');
  });

  it.each([
    [NOW + 600_000 + 29_000, null],
    [NOW + 600_000 + 31_000, 'token_expired'],
    [NOW - 29_000, null],
    [NOW - 31_000, 'token_invalid'],
  ])('at %i: %s (30 s clock tolerance)', async (at, code) => {
    const keys = await keyRing(SECRET);
    const { token } = await mintAgentToken(keys, subject, NOW, 600);
    const outcome = await verifyAgentToken(keys, token, at).then(() => null, (e: { code: string }) => e.code);
    expect(outcome).toBe(code);
  });

  it('verifies tokens of the previous secret after rotation, and only then', async () => {
    const old = await mintAgentToken(await keyRing(OLD), subject, NOW, 600);
    expect((await verifyAgentToken(await keyRing(SECRET, OLD), old.token, NOW)).agentId).toBe('polecat-1');
    await expect(verifyAgentToken(await keyRing(SECRET), old.token, NOW)).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('mints with gen and kid: our own tokens keep both', async () => {
    const keys = await keyRing(SECRET);
    const { token } = await mintAgentToken(keys, subject, NOW, 600);
    const header = JSON.parse(atob(token.split('.')[0]!.replace(/-/g, '+').replace(/_/g, '/')));
    expect(header).toMatchObject({ alg: 'HS256', kid: keys.current.kid });
    expect((await verifyAgentToken(keys, token, NOW)).gen).toBe(3);
  });

  /** A token with exactly the contract's claims (no gen), signed by someone who knows the secret. */
  const contractToken = (secret: string, header: Record<string, unknown> = {}) =>
    new SignJWT({ agentId: 'mayor-1', townId: 'town-1', userId: 'u' })
      .setProtectedHeader({ alg: 'HS256', ...header })
      .setSubject('mayor-1')
      .setIssuedAt(NOW / 1000)
      .setExpirationTime(NOW / 1000 + 600)
      .setJti('j-1')
      .setIssuer('gastown')
      .setAudience('gastown-agent')
      .sign(new TextEncoder().encode(secret));

  it.each([
    ['current secret, no kid', SECRET, {}, null],
    ['previous secret, no kid', OLD, {}, null],
    ['another secret, no kid', 'another-secret-0123456789abcdef0123456789ab', {}, 'token_invalid'],
    ['unknown kid', SECRET, { kid: 'k-harness' }, 'token_invalid'],
  ])('contract claims only (%s) → %s', async (_name, secret, header, code) => {
    const keys = await keyRing(SECRET, OLD);
    const outcome = await verifyAgentToken(keys, await contractToken(secret, header), NOW).then(
      (claims) => {
        expect(claims).toMatchObject({ agentId: 'mayor-1', townId: 'town-1', userId: 'u' });
        expect(claims.gen).toBeUndefined();
        return null;
      },
      (e: { code: string }) => e.code,
    );
    expect(outcome).toBe(code);
  });

  it('caches the imported key per secret', async () => {
    const a = await keyRing(SECRET);
    const b = await keyRing(SECRET);
    expect(a.current.key).toBe(b.current.key);
    expect((await importSigningKey(SECRET)).kid).toBe(a.current.kid);
  });
});

describe('revocation: does the agent still grant the token?', () => {
  const startedAt = NOW - 60_000;
  const iat = Math.floor(NOW / 1000);
  it.each([
    ['gen current, live', { gen: 2, iat }, { status: 'working', tokenGen: 2, tokenGenStartedAt: startedAt }, true],
    ['gen current, exited (a late call is refused)', { gen: 2, iat }, { status: 'exited', tokenGen: 2, tokenGenStartedAt: startedAt }, false],
    ['gen current, failed', { gen: 2, iat }, { status: 'failed', tokenGen: 2, tokenGenStartedAt: startedAt }, false],
    ['gen current, starting (called before its start was recorded)', { gen: 2, iat }, { status: 'starting', tokenGen: 2, tokenGenStartedAt: startedAt }, true],
    ['gen current, stopped', { gen: 2, iat }, { status: 'stopped', tokenGen: 2, tokenGenStartedAt: startedAt }, false],
    ['gen older', { gen: 1, iat }, { status: 'working', tokenGen: 2, tokenGenStartedAt: startedAt }, false],
    ['no gen, live, issued after the generation began', { iat }, { status: 'idle', tokenGen: 2, tokenGenStartedAt: startedAt }, true],
    ['no gen, issued in the second the generation began', { iat: Math.floor(startedAt / 1000) }, { status: 'working', tokenGen: 2, tokenGenStartedAt: startedAt + 999 }, true],
    ['no gen, issued before the generation began', { iat: Math.floor(startedAt / 1000) - 1 }, { status: 'working', tokenGen: 2, tokenGenStartedAt: startedAt }, false],
    ['no gen, stopped', { iat }, { status: 'stopped', tokenGen: 3, tokenGenStartedAt: NOW }, false],
    ['no gen, exited', { iat }, { status: 'exited', tokenGen: 2, tokenGenStartedAt: startedAt }, false],
    ['no gen, revived but not started yet', { iat }, { status: 'starting', tokenGen: 3, tokenGenStartedAt: null }, false],
  ])('%s → %s', (_name, claims, agent, granted) => {
    expect(agentTokenGranted(claims, agent)).toBe(granted);
  });
});

describe('configuration', () => {
  const base = { GASTOWN_JWT_SECRET: SECRET, CONTAINER_CONTROL_SECRET: 'c' };
  it('applies the contract defaults and the documented quotas', () => {
    expect(readConfig({ ...base })).toMatchObject({
      agentTokenTtlSeconds: 28800, userTokenTtlSeconds: 3600, tokenRefreshIntervalSeconds: 3600, heartbeatIntervalSeconds: 30, stallAfterSeconds: 120,
      startTimeoutSeconds: 60, maxRestarts: 5, mailLeaseSeconds: 30, retentionSeconds: 604_800,
      quotas: { townsPerUser: 100, rigsPerTown: 50, liveAgentsPerTown: 100, beadsPerTown: 10_000, eventBytesPerAgent: 4 * 1024 * 1024, unreadMailPerAgent: 500, toolCallsPerSecond: 20, sseSubscribersPerTown: 16 },
    });
  });
  it('takes the largest event bytes per agent the RPC limit allows', () => {
    expect(readConfig({ ...base, MAX_EVENT_BYTES_PER_AGENT: String(16 * 1024 * 1024) }).quotas.eventBytesPerAgent).toBe(MAX_EVENT_BYTES_PER_AGENT_CAP);
  });
  it('takes a mail lease of its own', () => {
    expect(readConfig({ ...base, MAIL_LEASE_SECONDS: '5' }).mailLeaseSeconds).toBe(5);
    expect(() => readConfig({ ...base, MAIL_LEASE_SECONDS: '0' })).toThrow(/MAIL_LEASE_SECONDS must be at least 1/);
  });
  it('takes a short user-token lifetime (tests cross many lifetimes in a minute)', () => {
    expect(readConfig({ ...base, USER_TOKEN_TTL_SECONDS: '3' }).userTokenTtlSeconds).toBe(3);
  });
  it.each([
    [{ CONTAINER_CONTROL_SECRET: 'c' }, /GASTOWN_JWT_SECRET is not set/],
    [{ ...base, GASTOWN_JWT_SECRET: 'short' }, /at least 32 bytes/],
    [{ ...base, GASTOWN_JWT_SECRET_PREVIOUS: 'short' }, /PREVIOUS must be at least 32 bytes/],
    [{ GASTOWN_JWT_SECRET: SECRET }, /CONTAINER_CONTROL_SECRET is not set/],
    [{ ...base, AGENT_TOKEN_TTL_SECONDS: 'soon' }, /AGENT_TOKEN_TTL_SECONDS must be a whole number/],
    [{ ...base, AGENT_TOKEN_TTL_SECONDS: '2.5' }, /AGENT_TOKEN_TTL_SECONDS must be a whole number/],
    [{ ...base, AGENT_TOKEN_TTL_SECONDS: '1' }, /AGENT_TOKEN_TTL_SECONDS must be at least 2/],
    [{ ...base, USER_TOKEN_TTL_SECONDS: '1' }, /USER_TOKEN_TTL_SECONDS must be at least 2/],
    [{ ...base, MAX_LIVE_AGENTS_PER_TOWN: '0' }, /MAX_LIVE_AGENTS_PER_TOWN must be at least 1/],
    [{ ...base, MAX_EVENT_BYTES_PER_AGENT: '1000' }, /MAX_EVENT_BYTES_PER_AGENT must be at least 65536/],
    // reading an agent's events back is one RPC answer: it must stay under the 32 MiB RPC limit
    [{ ...base, MAX_EVENT_BYTES_PER_AGENT: String(32 * 1024 * 1024) }, /MAX_EVENT_BYTES_PER_AGENT must be at most 16777216/],
    [{ ...base, RETENTION_SECONDS: '59' }, /RETENTION_SECONDS must be at least 60/],
  ])('refuses %o', (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
    expect(() => readConfig(env)).toThrow(expect.objectContaining({ code: 'misconfigured' }));
  });

  it.each([2, 3, 9])('takes a %i s token lifetime: refreshed at most at half of it, in whole ms', async (ttl) => {
    const config = readConfig({ ...base, AGENT_TOKEN_TTL_SECONDS: String(ttl) });
    expect(config.agentTokenTtlSeconds).toBe(ttl);
    const period = refreshPeriodMs(config.tokenRefreshIntervalSeconds, ttl);
    expect(period).toBe(ttl * 500);
    for (const random of [0, 0.5, 0.999999]) {
      const next = nextRefreshAt(NOW, period, random) - NOW;
      expect(Number.isInteger(next)).toBe(true);
      expect(next).toBeLessThanOrEqual(ttl * 1000 * 0.55);
    }
    expect(Number.isInteger(retryAt(NOW, 1, NOW + ttl * 1000, period, 0.3))).toBe(true);
    const { token, expiresAt } = await mintAgentToken(await keyRing(SECRET), subject, NOW, ttl);
    expect(expiresAt).toBe(NOW + ttl * 1000);
    await expect(verifyAgentToken(await keyRing(SECRET), token, NOW + 1_000)).resolves.toMatchObject({ agentId: 'polecat-1' });
  });
});

describe('verified-token cache', () => {
  it('never outlives the token: a cached token still expires on time', async () => {
    const keys = await keyRing(SECRET);
    const { token } = await mintAgentToken(keys, subject, NOW, 60);
    await verifyAgentToken(keys, token, NOW);
    await expect(verifyAgentToken(keys, token, NOW + 59_000)).resolves.toMatchObject({ agentId: 'polecat-1' });
    await expect(verifyAgentToken(keys, token, NOW + 91_000)).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('forgets tokens whose key left the ring (rotation completed)', async () => {
    const old = await mintAgentToken(await keyRing(OLD), subject, NOW, 600);
    await verifyAgentToken(await keyRing(SECRET, OLD), old.token, NOW);
    await expect(verifyAgentToken(await keyRing(SECRET), old.token, NOW + 1_000)).rejects.toMatchObject({ code: 'token_invalid' });
  });

  it('does not accept an agent token as a user token because it was verified before', async () => {
    const keys = await keyRing(SECRET);
    const { token } = await mintAgentToken(keys, subject, NOW, 600);
    await verifyAgentToken(keys, token, NOW);
    const { verifyUserToken } = await import('../../../src/domain/tokens');
    await expect(verifyUserToken(keys, token, NOW)).rejects.toMatchObject({ code: 'token_invalid' });
  });
});
