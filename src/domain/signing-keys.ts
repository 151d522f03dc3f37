/**
 * HS256 signing keys, imported once per isolate and cached. Each key has a `kid`
 * derived from the secret (a SHA-256 prefix), so a token names the key that signed it
 * and rotation (`GASTOWN_JWT_SECRET_PREVIOUS`) needs no guessing. A token without a
 * `kid` (the contract does not require one of a token minted elsewhere) is tried
 * against each key of the ring in order.
 */
export interface SigningKey {
  kid: string;
  key: CryptoKey;
}

/** The current key (signs) and any previous key (still verifies). */
export interface KeyRing {
  current: SigningKey;
  byKid: ReadonlyMap<string, SigningKey>;
  /** Every key once, current first: the order a token without `kid` is tried in. */
  keys: readonly SigningKey[];
}

const keyCache = new Map<string, Promise<SigningKey>>();
const encoder = new TextEncoder();

/** Imports (or returns the cached) HS256 key of a secret. */
export function signingKey(secret: string): Promise<SigningKey> {
  let hit = keyCache.get(secret);
  if (!hit) {
    hit = importSigningKey(secret);
    hit.catch(() => keyCache.delete(secret));
    keyCache.set(secret, hit);
  }
  return hit;
}

/** Builds the key ring from the current and optional previous secret. */
export async function keyRing(secret: string, previous?: string): Promise<KeyRing> {
  const current = await signingKey(secret);
  const byKid = new Map<string, SigningKey>([[current.kid, current]]);
  if (previous) {
    const old = await signingKey(previous);
    byKid.set(old.kid, old);
  }
  return { current, byKid, keys: [...byKid.values()] };
}

/** Imports a raw secret as an HMAC-SHA256 key, without the cache (the benchmark's baseline). */
export async function importSigningKey(secret: string): Promise<SigningKey> {
  const raw = encoder.encode(secret);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', raw));
  const kid = `k${toHex(digest.subarray(0, 8))}`;
  const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return { kid, key };
}

/** SHA-256 hex digest of a string (used to store credentials by hash only). */
export async function sha256Hex(value: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(value))));
}

/** Compares two strings in time independent of where they differ (after hashing to equal length). */
export async function constantTimeEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
