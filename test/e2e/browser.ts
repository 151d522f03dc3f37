import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../../scripts/lib/ports.ts';

/** Where the Debian package puts Chromium (`apt-get install -y chromium`); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for a closed network: headless, and none of Chromium's own background
 * connections (updates, sync, QUIC probes), which would be refused and retried.
 */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Launches headless Chromium, or says how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** What a page did wrong: console errors, uncaught exceptions, failed requests, error answers. */
export interface PageProblems {
  consoleErrors: string[];
  pageErrors: string[];
  /** Requests that got no answer: `errorText url`. */
  failedRequests: string[];
  /** Answers with status 400 or more: `status method url`. */
  errorResponses: string[];
  /** Every request the page made: `method path`. */
  requests: string[];
}

/** Records a page's problems from now on. */
export function watchPage(page: Page): PageProblems {
  const problems: PageProblems = { consoleErrors: [], pageErrors: [], failedRequests: [], errorResponses: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.consoleErrors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.pageErrors.push(e.message));
  page.on('request', (r) => problems.requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  page.on('requestfailed', (r) => problems.failedRequests.push(`${r.failure()?.errorText ?? 'failed'} ${r.method()} ${new URL(r.url()).pathname}`));
  page.on('response', (r) => {
    if (r.status() >= 400) problems.errorResponses.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return problems;
}

/** A blank page on another port of this machine: `localhost` is another site, `127.0.0.1` the same site on another origin. */
export async function blankSite(): Promise<{ server: Server; port: number }> {
  const port = await freePort();
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'));
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return { server, port };
}
