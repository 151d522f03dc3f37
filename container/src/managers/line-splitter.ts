import type { OutputLine } from '../domain/agent-lines.ts';

/**
 * Splits a byte stream into lines, keeping at most `maxBytes` of each: past that a line's
 * bytes are only counted, so memory stays bounded however long a line is, and the line is
 * reported once (truncated, at a character boundary) when its newline or the end comes.
 * Blank lines are skipped.
 */
export class LineSplitter {
  readonly #maxBytes: number;
  readonly #onLine: (line: OutputLine) => void;
  #parts: Buffer[] = [];
  #kept = 0;
  #bytes = 0;

  constructor(maxBytes: number, onLine: (line: OutputLine) => void) {
    this.#maxBytes = maxBytes;
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0x0a, start);
      this.#take(chunk.subarray(start, end < 0 ? chunk.length : end));
      if (end < 0) return;
      this.#emit();
      start = end + 1;
    }
  }

  /** The stream ended: a last line without its newline is still a line. */
  end(): void {
    this.#emit();
  }

  #take(bytes: Buffer): void {
    this.#bytes += bytes.length;
    const room = this.#maxBytes - this.#kept;
    if (room <= 0 || bytes.length === 0) return;
    // copied: a pipe's chunk is reused memory only as long as the line is
    const kept = Buffer.from(bytes.subarray(0, room));
    this.#parts.push(kept);
    this.#kept += kept.length;
  }

  #emit(): void {
    const bytes = this.#bytes;
    let data = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#kept);
    this.#parts = [];
    this.#kept = 0;
    this.#bytes = 0;
    const truncated = bytes > data.length;
    if (truncated) data = data.subarray(0, utf8Boundary(data));
    const text = data.toString('utf8');
    if (text.trim()) this.#onLine({ text, bytes, truncated });
  }
}

/** The length of `data` without a UTF-8 character its end cuts short. */
export function utf8Boundary(data: Buffer): number {
  // the lead byte of the last character starts at most 3 bytes before the end
  for (let i = data.length - 1; i >= Math.max(0, data.length - 4); i--) {
    const byte = data[i]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte
    const length = byte < 0x80 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    return i + length <= data.length ? data.length : i;
  }
  return data.length;
}
