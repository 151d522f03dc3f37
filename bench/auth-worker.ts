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

export { TownDirectory } from '../src/dos/town-directory';
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
app.route('/', createApp());

export default app;
