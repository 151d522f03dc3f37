import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { CliContext } from '../context.ts';
import { CliFailure, UsageError } from '../errors.ts';
import { duration, relative } from '../output.ts';

/** What `token inspect` reports: decoded, never verified, never the token itself. */
export interface TokenReport {
  signatureVerified: false;
  source: 'argument' | 'file' | 'stdin';
  kind: 'agent' | 'user' | 'unknown';
  subject: string;
  header: ProtectedHeaderParameters;
  claims: JWTPayload;
  issuedAt: string | null;
  expiresAt: string | null;
  expiresInSeconds: number | null;
  expired: boolean | null;
}

/** Decodes a JWT's header and claims and says who it is for and how long it has left. */
export function inspectToken(token: string, source: TokenReport['source'], now: number): TokenReport {
  let header: ProtectedHeaderParameters;
  let claims: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    claims = decodeJwt(token);
  } catch {
    const what = source === 'argument' ? 'the argument is neither a file nor' : `the ${source} does not hold`;
    throw new CliFailure('invalid_token', `${what} a JWT (three base64url parts: JSON header, JSON claims, signature)`);
  }
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : null;
  const iat = typeof claims.iat === 'number' ? claims.iat * 1000 : null;
  const audiences = ([] as string[]).concat(claims.aud ?? []);
  const c = claims as Record<string, unknown>;
  let kind: TokenReport['kind'] = 'unknown';
  let subject = `subject ${claims.sub ?? '(none)'}`;
  if (audiences.includes('gastown-agent') || typeof c.agentId === 'string') {
    kind = 'agent';
    const rig = typeof c.rigId === 'string' ? `, rig ${c.rigId}` : ' (no rig: the mayor)';
    subject = `agent ${String(c.agentId ?? claims.sub)} in town ${String(c.townId ?? '?')}${rig}, user ${String(c.userId ?? '?')}`;
  } else if (audiences.includes('gastown-user')) {
    kind = 'user';
    subject = `user access token of client ${claims.sub ?? '?'}`;
  }
  return {
    signatureVerified: false,
    source,
    kind,
    subject,
    header,
    claims,
    issuedAt: iat === null ? null : new Date(iat).toISOString(),
    expiresAt: exp === null ? null : new Date(exp).toISOString(),
    expiresInSeconds: exp === null ? null : Math.round((exp - now) / 1000),
    expired: exp === null ? null : exp <= now,
  };
}

/**
 * The token from the argument, a file (a token file such as GASTOWN_TOKEN_FILE), or stdin
 * (`-`). An argument that is neither an existing file nor a JWT (a mistyped or missing
 * path, most likely) is a usage error; the argument is not echoed, as it may be a token.
 */
function readToken(arg: string): { token: string; source: TokenReport['source'] } {
  if (arg === '-') return { token: readFileSync(0, 'utf8').trim(), source: 'stdin' };
  if (existsSync(arg) && statSync(arg).isFile()) return { token: readFileSync(arg, 'utf8').trim(), source: 'file' };
  if (!decodes(arg.trim())) throw new UsageError('the argument is neither a JWT nor an existing file');
  return { token: arg.trim(), source: 'argument' };
}

function decodes(token: string): boolean {
  try {
    decodeProtectedHeader(token);
    decodeJwt(token);
    return true;
  } catch {
    return false;
  }
}

/** `token inspect <jwt|file|->`. */
export function registerTokenInspect(program: Command, cli: CliContext): void {
  program
    .command('token')
    .description('work with a JWT locally')
    .command('inspect')
    .description('decode a JWT (agent or user token): who it is for and how long it has left. Does NOT verify the signature; needs no secret')
    .argument('<jwt-or-file>', 'the token, a file holding it, or - for stdin')
    .action(async (arg: string, _options, command: Command) => {
      const { token, source } = readToken(arg);
      const now = Date.now();
      const report = inspectToken(token, source, now);
      cli.print(command, report, () => {
        const c = report.claims;
        const lifetime = typeof c.exp === 'number' && typeof c.iat === 'number' ? duration((c.exp - c.iat) * 1000) : '-';
        const left = report.expiresAt === null ? 'no expiry' : report.expired ? `EXPIRED ${relative(report.expiresAt, now)}` : `${relative(report.expiresAt, now)}`;
        const extra = [c.gen !== undefined && `generation ${String(c.gen)}`, report.header.kid && `key id ${report.header.kid}`, c.jti && `jti ${c.jti}`].filter(Boolean).join(', ');
        return [
          'signature: NOT verified (decoded only; no secret needed or used)',
          `for:       ${report.subject}`,
          `issuer:    ${c.iss ?? '-'}   audience: ${([] as string[]).concat(c.aud ?? []).join(', ') || '-'}`,
          `issued:    ${report.issuedAt ?? '-'}${report.issuedAt ? ` (${relative(report.issuedAt, now)})` : ''}`,
          `expires:   ${report.expiresAt ?? '-'} (${left}; lifetime ${lifetime})`,
          ...(extra ? [`other:     ${extra}`] : []),
          `header:    ${JSON.stringify(report.header)}`,
          `claims:    ${JSON.stringify(report.claims)}`,
        ].join('\n');
      });
    });
}
