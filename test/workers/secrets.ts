/** Development-only secrets of the workers tests (auth is on in every test). */
export const TEST_SECRETS = {
  GASTOWN_JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789abcdef',
  GASTOWN_JWT_SECRET_PREVIOUS: 'previous-jwt-secret-0123456789abcdef0123456789',
  CONTAINER_CONTROL_SECRET: 'test-control-secret-0123456789abcdef',
  GASTOWN_CLIENT_ID: 'test-client',
  GASTOWN_CLIENT_SECRET: 'test-client-secret',
} as const;
