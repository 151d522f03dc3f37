import type { Context } from 'hono';
import { AppError } from '../errors';

/** The client's address as Cloudflare reports it (set by the edge; a client cannot choose it there). */
export function clientAddress(c: Context): string {
  return c.req.header('cf-connecting-ip') ?? 'unknown';
}

/** Whether this isolate already said that a rate-limiting binding is missing (a log line, not a limit). */
let missingReported = false;

/**
 * One attempt against a Workers rate-limiting binding, keyed by the client's address:
 * 429 with `Retry-After` (the binding's period) when the address is over its limit.
 * Without the binding (a deploy config that lacks it) nothing is limited, and that is said
 * once per isolate so it is not silent.
 */
export async function limitByAddress(c: Context, limiter: RateLimit | undefined, what: string): Promise<void> {
  if (!limiter) {
    if (!missingReported) {
      missingReported = true;
      console.warn(JSON.stringify({ msg: 'rate limiting is off: the AUTH_LIMITER binding is missing (see wrangler.toml [[ratelimits]])', what }));
    }
    return;
  }
  const { success } = await limiter.limit({ key: clientAddress(c) });
  if (!success) throw new AppError('rate_limited', `too many requests to the ${what} from this address; retry later`, { retryAfter: 60 });
}
