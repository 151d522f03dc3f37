import { createServer, request as httpRequest, type Server } from 'node:http';

/** Counters of a fault proxy. */
export interface ProxyCounts {
  forwarded: number;
  refreshPushes: number;
  refreshDropped: number;
}

/**
 * An HTTP proxy between the Worker and the control server that drops a share of the
 * token-refresh pushes (the connection is cut: the Worker sees no answer). Everything
 * else passes through untouched.
 */
export async function startFaultProxy(target: string, dropPercent: () => number): Promise<{ url: string; counts: ProxyCounts; close(): Promise<void> }> {
  const counts: ProxyCounts = { forwarded: 0, refreshPushes: 0, refreshDropped: 0 };
  const to = new URL(target);
  const server: Server = createServer((req, res) => {
    const isRefresh = req.method === 'POST' && /^\/agents\/(refresh-tokens|[^/]+\/refresh-token)$/.test(req.url ?? '');
    if (isRefresh) {
      counts.refreshPushes++;
      if (Math.random() * 100 < dropPercent()) {
        counts.refreshDropped++;
        req.resume();
        req.socket.destroy();
        return;
      }
    }
    counts.forwarded++;
    const upstream = httpRequest(
      { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'container_unavailable', message: 'control server unreachable' } }));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
