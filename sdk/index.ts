/**
 * The Gastown SDK: a typed client of the user API with tokens that renew themselves and an
 * event stream that survives expiry and disconnects. `fetch` only: Node, browsers, Workers.
 */
export { GastownClient, type GastownClientOptions } from './client.ts';
export { GastownError, redactSecrets, type GastownErrorCode, type GastownErrorOptions } from './errors.ts';
export { abortableSleep, isGap, townEvents, type ReconnectInfo, type TownEventsOptions } from './events.ts';
export {
  ClientCredentialsTokenManager,
  StaticTokenSource,
  type ClientCredentialsOptions,
  type FetchLike,
  type Logger,
  type TokenSource,
} from './token-manager.ts';
export { holdToken, refreshBackoffMs, tokenState, MAX_REFRESH_BUFFER_MS, type HeldToken, type TokenState } from './token-policy.ts';
export { Transport, type RequestOptions } from './transport.ts';
export type * from './types.ts';
