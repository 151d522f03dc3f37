/** Types of event-stream.js. */
export interface TownEvent {
  id: number;
  type: string;
  data: any;
}
export interface StreamHandlers {
  onEvent(event: TownEvent): void;
  onGap(gap: { after: number; oldest: number }): void;
}
/** What the stream needs of a session: its state and a fetch that handles 401s. */
export interface StreamSession {
  state: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}
export declare class TownEventStream extends EventTarget {
  constructor(session: StreamSession, townId: string, handlers: StreamHandlers, options?: { timers?: { set(fn: () => void, ms: number): unknown; clear(id: unknown): void } });
  lastId: number;
  stats: { delivered: number; duplicates: number; connections: number; gaps: number };
  status: 'connecting' | 'open' | 'waiting' | 'stopped';
  detail: string;
  handlers: StreamHandlers;
  start(): void;
  stop(): void;
}
