import { AppError } from '../errors';

/** Minimum length of an HS256 signing secret, in bytes. */
export const MIN_SECRET_BYTES = 32;
/** Minimum length of the user API's client secret: long enough that guessing it is hopeless. */
export const MIN_CLIENT_SECRET_BYTES = 16;

/**
 * Most stored event bytes per agent: reading an agent's events back is one RPC answer from
 * the TownDO, which must stay well under the 32 MiB RPC limit (with room for the JSON it
 * is parsed from and the fields added to each event).
 */
export const MAX_EVENT_BYTES_PER_AGENT_CAP = 16 * 1024 * 1024;

/** A numeric setting's default and bounds. */
interface NumberSetting {
  fallback: number;
  min: number;
  max?: number;
}

/**
 * Numeric settings: name → default, least and (where bounded) greatest accepted value.
 * The agent token's least lifetime makes a one-second refresh period (half of it), the
 * least the alarm schedule and the retry backoff are built for.
 */
const NUMBERS = {
  AGENT_TOKEN_TTL_SECONDS: { fallback: 28_800, min: 2 },
  USER_TOKEN_TTL_SECONDS: { fallback: 3_600, min: 2 },
  SESSION_MAX_AGE_SECONDS: { fallback: 7 * 24 * 3_600, min: 60 },
  TOKEN_REFRESH_INTERVAL_SECONDS: { fallback: 3_600, min: 1 },
  HEARTBEAT_INTERVAL_SECONDS: { fallback: 30, min: 1 },
  STALL_AFTER_SECONDS: { fallback: 120, min: 1 },
  START_TIMEOUT_SECONDS: { fallback: 60, min: 1 },
  MAX_RESTARTS: { fallback: 5, min: 0 },
  MAIL_LEASE_SECONDS: { fallback: 30, min: 1 },
  RETENTION_SECONDS: { fallback: 7 * 24 * 3_600, min: 60 },
  MAX_TOWNS_PER_USER: { fallback: 100, min: 1 },
  MAX_RIGS_PER_TOWN: { fallback: 50, min: 1 },
  MAX_LIVE_AGENTS_PER_TOWN: { fallback: 100, min: 1 },
  MAX_BEADS_PER_TOWN: { fallback: 10_000, min: 1 },
  MAX_EVENT_BYTES_PER_AGENT: { fallback: 4 * 1024 * 1024, min: 64 * 1024, max: MAX_EVENT_BYTES_PER_AGENT_CAP },
  MAX_UNREAD_MAIL_PER_AGENT: { fallback: 500, min: 1 },
  TOOL_CALLS_PER_SECOND: { fallback: 20, min: 1 },
  MAX_SSE_SUBSCRIBERS_PER_TOWN: { fallback: 16, min: 1 },
} satisfies Record<string, NumberSetting>;

type NumberName = keyof typeof NUMBERS;
const SECRET_NAMES = ['GASTOWN_JWT_SECRET', 'GASTOWN_JWT_SECRET_PREVIOUS', 'CONTAINER_URL', 'CONTAINER_CONTROL_SECRET', 'GASTOWN_CLIENT_ID', 'GASTOWN_CLIENT_SECRET'] as const;

/** Per-town and per-agent bounds: each breach is a 429 or 413, never a 500 (see the README). */
export interface Quotas {
  townsPerUser: number;
  rigsPerTown: number;
  liveAgentsPerTown: number;
  beadsPerTown: number;
  eventBytesPerAgent: number;
  unreadMailPerAgent: number;
  toolCallsPerSecond: number;
  sseSubscribersPerTown: number;
}

/** Validated configuration of the Worker and TownDO. */
export interface GastownConfig {
  jwtSecret: string;
  jwtSecretPrevious?: string;
  agentTokenTtlSeconds: number;
  userTokenTtlSeconds: number;
  /** How long a dashboard session lasts without being used (each refresh extends it). */
  sessionMaxAgeSeconds: number;
  tokenRefreshIntervalSeconds: number;
  heartbeatIntervalSeconds: number;
  stallAfterSeconds: number;
  /** How long an agent may stay `starting` before it is started again or failed. */
  startTimeoutSeconds: number;
  /** Restarts of a lost agent before it is failed. */
  maxRestarts: number;
  /** How long mail handed out waits for its acknowledgement before it is handed out again. */
  mailLeaseSeconds: number;
  /** How long an ended agent's events and token history, and acknowledged mail, are kept. */
  retentionSeconds: number;
  containerUrl?: string;
  containerControlSecret: string;
  clientId?: string;
  clientSecret?: string;
  quotas: Quotas;
}

/** Every variable the configuration reads. */
export type ConfigName = NumberName | (typeof SECRET_NAMES)[number];
/** Every variable the configuration reads, by name. */
export const CONFIG_NAMES = [...SECRET_NAMES, ...Object.keys(NUMBERS)] as ConfigName[];
/** The raw variables a config is read from (a subset of the Worker env). */
export type ConfigSource = Partial<Record<ConfigName, unknown>>;

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
  const n = (name: NumberName) => numberSetting(env, name);
  return {
    jwtSecret,
    jwtSecretPrevious: previous,
    agentTokenTtlSeconds: n('AGENT_TOKEN_TTL_SECONDS'),
    userTokenTtlSeconds: n('USER_TOKEN_TTL_SECONDS'),
    sessionMaxAgeSeconds: n('SESSION_MAX_AGE_SECONDS'),
    tokenRefreshIntervalSeconds: n('TOKEN_REFRESH_INTERVAL_SECONDS'),
    heartbeatIntervalSeconds: n('HEARTBEAT_INTERVAL_SECONDS'),
    stallAfterSeconds: n('STALL_AFTER_SECONDS'),
    startTimeoutSeconds: n('START_TIMEOUT_SECONDS'),
    maxRestarts: n('MAX_RESTARTS'),
    mailLeaseSeconds: n('MAIL_LEASE_SECONDS'),
    retentionSeconds: n('RETENTION_SECONDS'),
    containerUrl: optionalString(env.CONTAINER_URL)?.replace(/\/+$/, ''),
    containerControlSecret: controlSecret,
    clientId: optionalString(env.GASTOWN_CLIENT_ID),
    clientSecret: optionalString(env.GASTOWN_CLIENT_SECRET),
    quotas: {
      townsPerUser: n('MAX_TOWNS_PER_USER'),
      rigsPerTown: n('MAX_RIGS_PER_TOWN'),
      liveAgentsPerTown: n('MAX_LIVE_AGENTS_PER_TOWN'),
      beadsPerTown: n('MAX_BEADS_PER_TOWN'),
      eventBytesPerAgent: n('MAX_EVENT_BYTES_PER_AGENT'),
      unreadMailPerAgent: n('MAX_UNREAD_MAIL_PER_AGENT'),
      toolCallsPerSecond: n('TOOL_CALLS_PER_SECOND'),
      sseSubscribersPerTown: n('MAX_SSE_SUBSCRIBERS_PER_TOWN'),
    },
  };
}

/**
 * The client credentials of the user API, checked where they are used (the token endpoint
 * and the dashboard's sign-in): a missing or short secret is a configuration error.
 */
export function clientCredentialsOf(config: GastownConfig): { clientId: string; clientSecret: string } {
  if (!config.clientId || !config.clientSecret) throw new AppError('misconfigured', 'GASTOWN_CLIENT_ID / GASTOWN_CLIENT_SECRET are not set');
  if (byteLength(config.clientSecret) < MIN_CLIENT_SECRET_BYTES) {
    throw new AppError('misconfigured', `GASTOWN_CLIENT_SECRET must be at least ${MIN_CLIENT_SECRET_BYTES} bytes`);
  }
  return { clientId: config.clientId, clientSecret: config.clientSecret };
}

function requireSecret(env: ConfigSource, name: 'GASTOWN_JWT_SECRET'): string {
  const value = optionalString(env[name]);
  if (!value) throw new AppError('misconfigured', `${name} is not set`);
  if (byteLength(value) < MIN_SECRET_BYTES) {
    throw new AppError('misconfigured', `${name} must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return value;
}

function numberSetting(env: ConfigSource, name: NumberName): number {
  const { fallback, min, max }: NumberSetting = NUMBERS[name];
  const raw = optionalString(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new AppError('misconfigured', `${name} must be a whole number, got "${raw}"`);
  if (value < min) throw new AppError('misconfigured', `${name} must be at least ${min}, got ${value}`);
  if (max !== undefined && value > max) throw new AppError('misconfigured', `${name} must be at most ${max}, got ${value}`);
  return value;
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function byteLength(value: string): number {
  return new TextEncoder().encode(value).byteLength;
}
