/** Types of session.js. */
import type { ApiError } from './api-error.js';
import type { SessionTiming } from './policy.js';

export interface SessionOptions {
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  now?: () => number;
  timers?: { set: (fn: () => void, ms: number) => unknown; clear: (id: any) => void };
  storage?: { getItem(key: string): string | null; setItem(key: string, value: string): void; removeItem(key: string): void } | null;
}
export declare class Session extends EventTarget {
  constructor(options?: SessionOptions);
  state: 'unknown' | 'signed-out' | 'signed-in';
  timing: SessionTiming | null;
  endedBecause: string;
  renewals: number;
  epoch: number;
  lastError: ApiError | null;
  start(): Promise<void>;
  signIn(clientId: string, clientSecret: string): Promise<void>;
  signOut(): Promise<void>;
  refresh(): Promise<boolean>;
  check(): void;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  request(method: string, path: string, body?: unknown): Promise<any>;
}
