import { createServer } from 'node:net';

/** Ports this process has handed out: the OS may offer a just-closed port again, and a town needs two distinct ones. */
const handedOut = new Set<number>();

/** A TCP port free on loopback right now, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await ephemeralPort();
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether something already listens on `host:port` (binding there fails with EADDRINUSE). */
export function portInUse(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(true) : reject(err)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}
