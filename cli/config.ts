import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError } from './errors.ts';

/** What `gastown login` stores (the secret included: the file is readable by its owner only). */
export interface StoredConfig {
  url?: string;
  clientId?: string;
  clientSecret?: string;
}

/** Connection settings as resolved, with where each came from (never printed with the secret). */
export interface ResolvedConfig {
  url: string;
  clientId: string;
  clientSecret: string;
  sources: { url: Source; clientId: Source; clientSecret: Source };
}

export type Source = 'flag' | 'env' | 'config';

/** Global flags that override the environment and the config file. */
export interface ConnectionFlags {
  url?: string;
  clientId?: string;
  clientSecret?: string;
}

/** `$XDG_CONFIG_HOME/gastown/config.json`, else `~/.config/gastown/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(env.HOME || homedir(), '.config');
  return join(base, 'gastown', 'config.json');
}

/** The stored config, or an empty one when there is no file. Warns when others can read it. */
export function readConfigFile(path: string, warn: (message: string) => void): StoredConfig {
  if (!existsSync(path)) return {};
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) warn(`${path} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${path}`);
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as StoredConfig;
    return {
      ...(typeof value.url === 'string' ? { url: value.url } : {}),
      ...(typeof value.clientId === 'string' ? { clientId: value.clientId } : {}),
      ...(typeof value.clientSecret === 'string' ? { clientSecret: value.clientSecret } : {}),
    };
  } catch {
    throw new UsageError(`${path} is not valid JSON: fix it or run gastown login again`);
  }
}

/** Writes the config atomically, mode 0600 from the first byte, in a directory of mode 0700. */
export function writeConfigFile(path: string, config: StoredConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Removes the stored config; true when there was one. */
export function removeConfigFile(path: string): boolean {
  if (!existsSync(path)) return false;
  unlinkSync(path);
  return true;
}

/**
 * Flags, then `GASTOWN_URL` / `GASTOWN_CLIENT_ID` / `GASTOWN_CLIENT_SECRET`, then the
 * config file. Missing settings are a usage error that says how to give them.
 */
export function resolveConfig(flags: ConnectionFlags, env: NodeJS.ProcessEnv, stored: StoredConfig): ResolvedConfig {
  const pick = (flag: string | undefined, envName: string, file: string | undefined): [string, Source] | undefined => {
    if (flag) return [flag, 'flag'];
    if (env[envName]) return [env[envName]!, 'env'];
    if (file) return [file, 'config'];
    return undefined;
  };
  const url = pick(flags.url, 'GASTOWN_URL', stored.url);
  const clientId = pick(flags.clientId, 'GASTOWN_CLIENT_ID', stored.clientId);
  const clientSecret = pick(flags.clientSecret, 'GASTOWN_CLIENT_SECRET', stored.clientSecret);
  const missing = [!url && '--url / GASTOWN_URL', !clientId && '--client-id / GASTOWN_CLIENT_ID', !clientSecret && '--client-secret / GASTOWN_CLIENT_SECRET'].filter(Boolean);
  if (!url || !clientId || !clientSecret) throw new UsageError(`not configured: give ${missing.join(', ')}, or run gastown login`);
  return { url: url[0], clientId: clientId[0], clientSecret: clientSecret[0], sources: { url: url[1], clientId: clientId[1], clientSecret: clientSecret[1] } };
}
