import { AppError } from '../errors';

/** Minimum length of an HS256 signing secret, in bytes. */
export const MIN_SECRET_BYTES = 32;
/**
 * Shortest agent token lifetime: the refresh period is half of it (one second here), the
 * least the alarm schedule and the retry backoff are built for.
 */
export const MIN_AGENT_TOKEN_TTL_SECONDS = 2;

/** Validated configuration of the Worker and TownDO. */
export interface GastownConfig {
  jwtSecret: string;
  jwtSecretPrevious?: string;
  agentTokenTtlSeconds: number;
  tokenRefreshIntervalSeconds: number;
  heartbeatIntervalSeconds: number;
  stallAfterSeconds: number;
  containerUrl?: string;
  containerControlSecret: string;
  clientId?: string;
  clientSecret?: string;
  faultAlarmThrowPercent: number;
}

/** The raw variables a config is read from (a subset of the Worker env). */
export type ConfigSource = Partial<Record<keyof typeof DEFAULTS | 'GASTOWN_JWT_SECRET' | 'GASTOWN_JWT_SECRET_PREVIOUS' | 'CONTAINER_URL' | 'CONTAINER_CONTROL_SECRET' | 'GASTOWN_CLIENT_ID' | 'GASTOWN_CLIENT_SECRET' | 'FAULT_ALARM_THROW_PERCENT', unknown>>;

const DEFAULTS = {
  AGENT_TOKEN_TTL_SECONDS: 28_800,
  TOKEN_REFRESH_INTERVAL_SECONDS: 3_600,
  HEARTBEAT_INTERVAL_SECONDS: 30,
  STALL_AFTER_SECONDS: 120,
} as const;

const cache = new WeakMap<object, GastownConfig>();

/**
 * Reads and validates configuration. A missing or short secret is a configuration
 * error, never replaced by a default. Cached per env object.
 */
export function readConfig(env: ConfigSource): GastownConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const config = parseConfig(env);
  cache.set(env, config);
  return config;
}

function parseConfig(env: ConfigSource): GastownConfig {
  const jwtSecret = requireSecret(env, 'GASTOWN_JWT_SECRET');
  const previous = optionalString(env.GASTOWN_JWT_SECRET_PREVIOUS);
  if (previous !== undefined && byteLength(previous) < MIN_SECRET_BYTES) {
    throw new AppError('misconfigured', `GASTOWN_JWT_SECRET_PREVIOUS must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const controlSecret = optionalString(env.CONTAINER_CONTROL_SECRET);
  if (!controlSecret) throw new AppError('misconfigured', 'CONTAINER_CONTROL_SECRET is not set');
  const ttl = positiveInt(env, 'AGENT_TOKEN_TTL_SECONDS');
  if (ttl < MIN_AGENT_TOKEN_TTL_SECONDS) {
    throw new AppError('misconfigured', `AGENT_TOKEN_TTL_SECONDS must be at least ${MIN_AGENT_TOKEN_TTL_SECONDS}, got ${ttl}`);
  }
  return {
    jwtSecret,
    jwtSecretPrevious: previous,
    agentTokenTtlSeconds: ttl,
    tokenRefreshIntervalSeconds: positiveInt(env, 'TOKEN_REFRESH_INTERVAL_SECONDS'),
    heartbeatIntervalSeconds: positiveInt(env, 'HEARTBEAT_INTERVAL_SECONDS'),
    stallAfterSeconds: positiveInt(env, 'STALL_AFTER_SECONDS'),
    containerUrl: optionalString(env.CONTAINER_URL)?.replace(/\/+$/, ''),
    containerControlSecret: controlSecret,
    clientId: optionalString(env.GASTOWN_CLIENT_ID),
    clientSecret: optionalString(env.GASTOWN_CLIENT_SECRET),
    faultAlarmThrowPercent: Number(optionalString(env.FAULT_ALARM_THROW_PERCENT) ?? 0) || 0,
  };
}

function requireSecret(env: ConfigSource, name: 'GASTOWN_JWT_SECRET'): string {
  const value = optionalString(env[name]);
  if (!value) throw new AppError('misconfigured', `${name} is not set`);
  if (byteLength(value) < MIN_SECRET_BYTES) {
    throw new AppError('misconfigured', `${name} must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return value;
}

function positiveInt(env: ConfigSource, name: keyof typeof DEFAULTS): number {
  const raw = optionalString(env[name]);
  if (raw === undefined) return DEFAULTS[name];
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new AppError('misconfigured', `${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function byteLength(value: string): number {
  return new TextEncoder().encode(value).byteLength;
}
