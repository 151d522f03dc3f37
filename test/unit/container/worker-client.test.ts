import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Stats } from '../../../container/src/services/stats.ts';
import type { TokenStore } from '../../../container/src/managers/token-store.ts';
import { WorkerClient } from '../../../container/src/services/worker-client.ts';
import type { RemintResult } from '../../../container/src/services/reminter.ts';

/** A Worker that holds each request until released, then answers 401 token_expired. */
async function slowRefusingWorker() {
  const held: Array<() => void> = [];
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    req.resume();
    held.push(() => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'token_expired', message: 'expired' } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests: () => requests,
    arrived: async () => { while (held.length === 0) await new Promise((r) => setTimeout(r, 5)); },
    release: () => held.splice(0).forEach((f) => f()),
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** The token store behind its seam: one agent, one token that a re-mint replaces. */
function tokens(): TokenStore & { current: string } {
  const store = { current: 'old-token', token: () => store.current };
  return store as unknown as TokenStore & { current: string };
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => { await Promise.all(closers.splice(0).map((c) => c())); });

describe('WorkerClient', () => {
  it('halted while its request is in flight (a server shutting down): the request is abandoned, its 401 is never healed, no re-mint and no second request', async () => {
    const worker = await slowRefusingWorker();
    closers.push(worker.close);
    const store = tokens();
    let remints = 0;
    const client = new WorkerClient(store, new Stats(), async () => { remints++; store.current = 'new-token'; return { ok: true, expiresAt: '' }; });
    const halt = new AbortController();
    const reply = client.post({ agentId: 'a1', townId: 't1', apiUrl: worker.url }, '/events', '{"events":[]}', 'events', halt.signal);
    await worker.arrived();
    halt.abort();
    worker.release();
    expect((await reply).status).toBe(0);
    expect(remints).toBe(0);
    expect(worker.requests()).toBe(1);
  });

  it('halted while its re-mint is in flight: the fresh token is kept, but the request is not sent again', async () => {
    const worker = await slowRefusingWorker();
    closers.push(worker.close);
    const store = tokens();
    const halt = new AbortController();
    let remints = 0;
    const remint = async (): Promise<RemintResult> => { remints++; halt.abort(); store.current = 'new-token'; return { ok: true, expiresAt: '' }; };
    const client = new WorkerClient(store, new Stats(), remint);
    const reply = client.post({ agentId: 'a1', townId: 't1', apiUrl: worker.url }, '/events', '{"events":[]}', 'events', halt.signal);
    await worker.arrived();
    worker.release();
    expect((await reply).status).toBe(401);
    expect(remints).toBe(1);
    expect(worker.requests()).toBe(1);
  });

  it('not halted: a 401 token_expired is healed by one re-mint and one retry with the new token', async () => {
    const worker = await slowRefusingWorker();
    closers.push(worker.close);
    const store = tokens();
    let remints = 0;
    const client = new WorkerClient(store, new Stats(), async () => { remints++; store.current = 'new-token'; return { ok: true, expiresAt: '' }; });
    const reply = client.post({ agentId: 'a1', townId: 't1', apiUrl: worker.url }, '/events', '{"events":[]}', 'events', new AbortController().signal);
    await worker.arrived();
    worker.release();
    while (worker.requests() < 2) await new Promise((r) => setTimeout(r, 5));
    worker.release();
    expect((await reply).status).toBe(401);
    expect(remints).toBe(1);
    expect(worker.requests()).toBe(2);
  });
});
