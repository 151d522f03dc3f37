import { describe, expect, it } from 'vitest';
import { EventHub, MAX_UNREAD_BYTES } from '../../src/services/event-hub';

const event = (id: number, size = 1_000) => ({ id, type: 'filler', data: JSON.stringify({ pad: 'x'.repeat(size) }), at: 0 });

describe('a slow event-stream reader (real workerd streams)', () => {
  it('is dropped once it falls more than 4 MiB behind, and its stream fails (the client reconnects with Last-Event-ID)', async () => {
    const hub = new EventHub();
    const slow = hub.subscribe([], undefined);
    const fast = hub.subscribe([], undefined);
    const fastReader = fast.body!.getReader();
    expect(new TextDecoder().decode((await fastReader.read()).value)).toBe('retry: 2000\n\n');
    let published = 0;
    // the fast reader keeps up; the slow one reads nothing
    while (hub.size === 2 && published < 10_000) {
      hub.publish(event(++published));
      await fastReader.read();
    }
    expect(hub.size).toBe(1);
    expect(published * 1_000).toBeGreaterThan(MAX_UNREAD_BYTES * 0.95);
    expect(published * 1_100).toBeLessThan(MAX_UNREAD_BYTES * 1.2);
    // what the slow reader had queued was not kept for it: its stream errors
    const reader = slow.body!.getReader();
    await expect((async () => {
      for (;;) if ((await reader.read()).done) return 'closed';
    })()).rejects.toThrow(/slow reader/);
    // the fast one still gets every event
    hub.publish(event(++published, 10));
    expect(new TextDecoder().decode((await fastReader.read()).value)).toContain(`id: ${published}\n`);
    await fastReader.cancel();
    expect(hub.size).toBe(0);
  });

  it('a reader that keeps up is never dropped, however much flows', async () => {
    const hub = new EventHub();
    const reader = hub.subscribe([], undefined).body!.getReader();
    await reader.read();
    for (let i = 1; i <= 6_000; i++) {
      hub.publish(event(i));
      await reader.read();
    }
    expect(hub.size).toBe(1);
    await reader.cancel();
  });
});
