import { Hono, type Context } from 'hono';
import { decodeJwt, jwtVerify } from 'jose';
import type { AppEnv } from '../src/app-env';
import { createApp } from '../src/app';
import type { AgentClaims } from '../src/domain/tokens';
import { unwrap } from '../src/errors';
import { agentAuth } from '../src/middleware/agent-auth';
import { envKeys } from '../src/middleware/keys';
import { AGENT_AUDIENCE, verifyAgentToken, verifySignedToken } from '../src/domain/tokens';
import { bearerToken } from '../src/middleware/bearer';

import { DurableObject } from 'cloudflare:workers';
import { EventStore } from '../src/storage/event-store';
import { TOWN_MIGRATIONS } from '../src/storage/migrations';
import { Sql, applyMigrations } from '../src/storage/sql';
export { TownDirectory } from '../src/dos/town-directory';

/**
 * The ingest floor: the same rows the pipeline stores, inserted into a Durable Object's
 * SQLite directly (the product's schema and insert), in transactions of 100 — what one
 * delivery of events is.
 */
export class IngestFloorDO extends DurableObject {
  async insert(n: number, bytes: number): Promise<number> {
    applyMigrations(this.ctx.storage, TOWN_MIGRATIONS);
    const events = new EventStore(new Sql(this.ctx.storage.sql));
    const pad = 'x'.repeat(Math.max(0, bytes - 40));
    for (let i = 0; i < n; i += 100) {
      this.ctx.storage.transactionSync(() => {
        for (let k = i; k < Math.min(n, i + 100); k++) {
          const json = JSON.stringify({ id: `e${k}`, type: 'bench', i: k, pad });
          events.addAgentEvent('agent', { id: `e${k}`, type: 'bench', json, bytes: json.length }, Date.now());
        }
      });
    }
    return n;
  }
}
export { TownDO } from '../src/dos/town-do';

const heartbeat = async (c: Context<AppEnv>, claims: AgentClaims) =>
  c.json(unwrap(await c.env.TOWN.getByName(c.req.param('townId')!).heartbeat(claims, {})));

/** The same heartbeat route: verified (cached key), bare (no verification), raw secret (key imported per call). */
const app = new Hono<AppEnv>()
  .post('/bench/verified/:townId/:agentId', agentAuth(), (c) => heartbeat(c, c.get('agent')))
  .post('/bench/bare/:townId/:agentId', (c) => heartbeat(c, decodeJwt(bearerToken(c)) as unknown as AgentClaims))
  .post('/bench/raw-secret/:townId/:agentId', async (c) => {
    const { payload } = await jwtVerify(bearerToken(c), new TextEncoder().encode(c.env.GASTOWN_JWT_SECRET), {
      algorithms: ['HS256'],
      issuer: 'gastown',
      audience: 'gastown-agent',
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      clockTolerance: 30,
    });
    return heartbeat(c, payload as unknown as AgentClaims);
  });
  // n verifications in one request, timed by the client: workerd's clock does not advance
  // during pure computation, so CPU per verification = (T(n) - T(0)) / n.
app.post('/bench/verify-loop/:mode', async (c) => {
  const n = Number(c.req.query('n') ?? 0);
  const token = bearerToken(c);
  const raw = new TextEncoder().encode(c.env.GASTOWN_JWT_SECRET);
  const keys = await envKeys(c.env);
  const mode = c.req.param('mode');
  for (let i = 0; i < n; i++) {
    if (mode === 'production') await verifyAgentToken(keys, token, Date.now());
    else if (mode === 'cached-key') await verifySignedToken(keys.current.key, token, AGENT_AUDIENCE, Date.now());
    else await verifySignedToken(raw, token, AGENT_AUDIENCE, Date.now());
  }
  return c.json({ n });
});
app.post('/bench/ingest-floor', async (c) => {
  const n = Number(c.req.query('n') ?? 0);
  const bytes = Number(c.req.query('bytes') ?? 100);
  const stub = (c.env as unknown as { INGEST_FLOOR: DurableObjectNamespace<IngestFloorDO> }).INGEST_FLOOR.getByName(c.req.query('object') ?? 'floor');
  return c.json({ inserted: await stub.insert(n, bytes) });
});
app.route('/', createApp());

export default app;
