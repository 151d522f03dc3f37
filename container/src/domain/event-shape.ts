import { MAX_EVENT_BYTES } from './event-limits.ts';

/** One agent event as the Worker stores it, or why it refuses it. */
export type NormalizedEvent =
  | { id: string; type: string; json: string; bytes: number; value: Record<string, unknown> }
  | { id: string | null; refused: { code: string; message: string } };

/**
 * What the Worker does with one agent event: a JSON object with an id of 1-200 characters is
 * stored; a missing or malformed `type` makes it `output` (the agent's own word kept as
 * `originalType`) rather than refusing it; over `MAX_EVENT_BYTES` it is refused
 * (`too_large`). Pure, so the Worker and the container's test stand-in share it.
 */
export function normalizeEvent(raw: unknown): NormalizedEvent {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { id: null, refused: { code: 'bad_request', message: 'an event must be a JSON object' } };
  const value = { ...(raw as Record<string, unknown>) };
  const id = value.id;
  if (typeof id !== 'string' || id.length < 1 || id.length > 200) return { id: null, refused: { code: 'bad_request', message: 'an event needs an id of 1-200 characters' } };
  if (value.type === undefined) value.type = 'output';
  else if (typeof value.type !== 'string' || value.type.length < 1 || value.type.length > 100) {
    value.originalType = typeof value.type === 'string' ? value.type.slice(0, 100) : value.type === null ? null : typeof value.type;
    value.type = 'output';
  }
  const json = JSON.stringify(value);
  const bytes = new TextEncoder().encode(json).byteLength;
  if (bytes > MAX_EVENT_BYTES) return { id, refused: { code: 'too_large', message: `an event is at most ${MAX_EVENT_BYTES} bytes` } };
  return { id, type: value.type as string, json, bytes, value };
}
