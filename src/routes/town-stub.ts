import type { Context } from 'hono';
import type { AppEnv } from '../app-env';
import { AppError } from '../errors';

const TOWN_ID = /^town-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The TownDO of the path's town. Ids not of our format are 404 without touching a Durable Object. */
export function townStub(c: Context<AppEnv>) {
  const townId = c.req.param('townId') ?? '';
  if (!TOWN_ID.test(townId)) throw new AppError('not_found', 'town not found');
  return c.env.TOWN.getByName(townId);
}

/** A new town id. */
export function newTownId(): string {
  return `town-${crypto.randomUUID()}`;
}

/** The caller of a user-facing route: who, and the URL agents should call back. */
export function userCall(c: Context<AppEnv>) {
  return { userId: c.get('userId'), apiUrl: new URL(c.req.url).origin };
}
