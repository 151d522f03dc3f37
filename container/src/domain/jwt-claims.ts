/** The claims the control server reads from an agent token. It cannot verify it (no secret). */
export interface TokenClaims {
  agentId: string;
  townId: string;
  iat: number;
  exp: number;
  /** The agent's token generation in the TownDO; absent in tokens a harness minted (ordered as 0). */
  gen?: number;
  jti?: string;
}

/** Decodes a JWT's payload without verifying it; null when it is not a well-formed agent token. */
export function decodeClaims(token: unknown): TokenClaims | null {
  if (typeof token !== 'string' || token.length > 8192) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return null;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    const agentId = typeof payload.agentId === 'string' ? payload.agentId : payload.sub;
    if (typeof agentId !== 'string' || typeof payload.townId !== 'string') return null;
    if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') return null;
    if (payload.gen !== undefined && (typeof payload.gen !== 'number' || !Number.isFinite(payload.gen))) return null;
    return {
      agentId,
      townId: payload.townId,
      iat: payload.iat,
      exp: payload.exp,
      gen: payload.gen as number | undefined,
      jti: typeof payload.jti === 'string' ? payload.jti : undefined,
    };
  } catch {
    return null;
  }
}
