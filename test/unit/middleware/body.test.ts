import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonDepth, parseJson, readBodyText } from '../../../src/middleware/body';

describe('the JSON depth scan', () => {
  it.each([
    ['{}', 1],
    ['[[[]]]', 3],
    ['{"a": "[[[[not nesting]]]]"}', 1],
    ['{"a": "\\\\"}', 1],
    ['{"a": "\\"[["}', 1],
    ['[1, {"b": [2]}]', 3],
  ])('%s → %i', (text, depth) => {
    expect(jsonDepth(text)).toBe(depth);
  });

  it('refuses nesting past the limit before parsing (a 400, not a stack overflow)', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    expect(() => parseJson(deep)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => parseJson(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).not.toThrow();
  });
});

describe('the body reader', () => {
  it('stops at the byte limit as the body streams in, whatever Content-Length says', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
        if (pulled > 1_000) controller.close();
      },
    });
    const request = new Request('http://x/', { method: 'POST', body, duplex: 'half' } as RequestInit);
    await expect(readBodyText(request, 100 * 1024)).rejects.toMatchObject({ code: 'too_large' });
    expect(pulled).toBeLessThan(10);
  });

  it('refuses a declared length over the limit without reading', async () => {
    const request = new Request('http://x/', { method: 'POST', body: 'x', headers: { 'content-length': '999999999' } });
    await expect(readBodyText(request, 1024)).rejects.toMatchObject({ code: 'too_large' });
  });
});
