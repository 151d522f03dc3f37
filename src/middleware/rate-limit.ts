import type { Context } from 'hono';
import { AppError } from '../errors';

/** The client's address as Cloudflare reports it (set by the edge; a client cannot choose it there). */
export function clientAddress(c: Context): string {
  return c.req.header('cf-connecting-ip') ?? 'unknown';
}

/**
 * One attempt against a Workers rate-limiting binding, keyed by the client's address:
 * 429 with `Retry-After` (the binding's period) when the address is over its limit.
 */
export async function limitByAddress(c: Context, limiter: RateLimit | undefined, what: string): Promise<void> {
  if (!limiter) return;
  const { success } = await limiter.limit({ key: clientAddress(c) });
  if (!success) throw new AppError('rate_limited', `too many requests to the ${what} from this address; retry later`, { retryAfter: 60 });
}
