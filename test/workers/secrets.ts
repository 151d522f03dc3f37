/** Development-only secrets of the workers tests (auth is on in every test). */
export const TEST_SECRETS = {
  GASTOWN_JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789abcdef',
  GASTOWN_JWT_SECRET_PREVIOUS: 'previous-jwt-secret-0123456789abcdef0123456789',
  CONTAINER_CONTROL_SECRET: 'test-control-secret-0123456789abcdef',
  GASTOWN_CLIENT_ID: 'test-client',
  GASTOWN_CLIENT_SECRET: 'test-client-secret',
} as const;

/**
 * Quotas small enough for a test to reach (every other test stays well inside them), and a
 * retention period short enough to age a town past it (every test file ends long before).
 * The towns quota is per user, and every test is the same user: it is tested with an app
 * configured on its own.
 */
export const TEST_QUOTAS = {
  MAX_TOWNS_PER_USER: '100000',
  MAX_RIGS_PER_TOWN: '3',
  MAX_LIVE_AGENTS_PER_TOWN: '8',
  MAX_BEADS_PER_TOWN: '25',
  MAX_EVENT_BYTES_PER_AGENT: '65536',
  MAX_UNREAD_MAIL_PER_AGENT: '3',
  TOOL_CALLS_PER_SECOND: '30',
  MAX_SSE_SUBSCRIBERS_PER_TOWN: '3',
  RETENTION_SECONDS: '600',
} as const;
