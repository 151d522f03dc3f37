import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GastownApi } from '../../scripts/lib/gastown-api.ts';
import { ROOT } from '../../scripts/lib/local-town.ts';
import { blankSite, launchChromium, watchPage, type PageProblems } from './browser.ts';
import { eventually, startTownFixture, type TownFixture } from './local-town-fixture.ts';

const USER_TTL_SECONDS = 4;
const AGENT_TTL_SECONDS = 6;
const LIFETIMES = 10;
/** Screenshots of the town page (an artifact of the run, not committed). */
const ARTIFACTS = join(ROOT, 'test-results', 'dashboard');

/**
 * The dashboard in headless Chromium against a real local town (wrangler dev, the control
 * server, real agents), with 4 s sessions and 6 s agent tokens refreshed every 2 s: the
 * page stays open for ten session lifetimes and does its work (countdowns, refreshes,
 * the mayor, dispatch, stop, refresh now) with no console error, no failed request (its
 * event stream is ended by the server at each cookie's expiry, never cut by the page) and
 * every town event once. Then the faults, from outside: offline past the access cookie
 * while the Worker restarts, the access cookie taken away, pages on other origins, and a
 * sign-out in another tab.
 */
describe('the dashboard, open for ten session lifetimes', () => {
  let f: TownFixture;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;
  let townId: string;
  let server: { ids: number[]; close(): void };

  beforeAll(async () => {
    const launching = launchChromium();
    launching.catch(() => {}); // awaited below, after the town is up (and so closed by afterAll whatever happens)
    f = await startTownFixture({ vars: { USER_TOKEN_TTL_SECONDS: String(USER_TTL_SECONDS), AGENT_TOKEN_TTL_SECONDS: String(AGENT_TTL_SECONDS), TOKEN_REFRESH_INTERVAL_SECONDS: '2' } });
    browser = await launching;
    townId = (await f.api.createTown('harbour')).id;
    const rig = await f.api.createRig(townId, 'main');
    await f.api.dispatch(townId, rig.id, 'refinery');
    await f.api.tellMayor(townId, 'keep the lights on');
    server = readTownStream(f.api, townId);
  });
  afterAll(async () => {
    server?.close();
    await browser?.close();
    await f?.close();
  });

  it('signs in, shows live countdowns, refreshes, the mayor, dispatch and stop, with 0 errors and every event once', async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    problems = watchPage(page);
    const served = await page.goto(`${f.town.workerUrl}/`);
    const headers = served!.headers();
    expect(headers['content-security-policy']).toMatch(/default-src 'self';.*frame-ancestors 'none'/);
    expect(headers['content-security-policy']).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });

    // sign in with the keyboard
    await page.getByLabel('Client id').fill(f.town.vars.GASTOWN_CLIENT_ID!);
    await page.getByLabel('Client secret').fill(f.town.vars.GASTOWN_CLIENT_SECRET!);
    await page.keyboard.press('Enter');
    const signedInAt = Date.now();
    const town = page.getByRole('link', { name: 'harbour' });
    await town.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#town-title').textContent()).toBe('harbour');

    // countdowns move down, refreshes push them back up, and no token runs out
    const mayorRow = page.locator('#agents tr[data-role="mayor"]');
    await expect.poll(() => mayorRow.getAttribute('data-status'), { timeout: 15_000 }).toMatch(/working|idle/);
    const samples: Array<{ left: number; refreshes: number }> = [];
    for (let i = 0; i < 16; i++) {
      samples.push({ left: Number(await mayorRow.getAttribute('data-remaining-ms')), refreshes: Number(await mayorRow.locator('.refresh-count').textContent()) });
      await page.waitForTimeout(300);
    }
    const steps = samples.slice(1).map((s, i) => s.left - samples[i]!.left);
    expect(steps.some((d) => d < 0), 'the countdown moves down').toBe(true);
    expect(steps.some((d) => d > 1_000), 'a refresh gives a longer life').toBe(true);
    expect(samples.at(-1)!.refreshes).toBeGreaterThan(samples[0]!.refreshes);
    expect(Math.min(...samples.map((s) => s.left))).toBeGreaterThan(0);

    // the timeline: every agent held a valid token throughout, refreshes marked
    await expect.poll(() => page.locator('#timeline li').count()).toBeGreaterThanOrEqual(2);
    await expect.poll(async () => Number(await page.locator(`#timeline li[data-agent-id="${await mayorRow.getAttribute('data-agent-id')}"]`).getAttribute('data-refreshes'))).toBeGreaterThan(1);
    expect(await page.locator('#timeline li[data-gaps]:not([data-gaps="0"])').count()).toBe(0);

    // the mayor: a message from the box (Ctrl+Enter), its reply appears live, its bead and polecat too
    await page.getByLabel('Message to the mayor').fill('please add a health check');
    await page.keyboard.press('Control+Enter');
    await expect.poll(() => page.locator('#mayor-status').textContent()).toMatch(/^Delivered to mayor/);
    const reply = page.locator('#mayor-messages li[data-from="mayor"]').filter({ hasText: /^Mayor.*filed bead-/ }).nth(1);
    await expect.poll(() => reply.count(), { timeout: 15_000 }).toBe(1);
    const beadId = /filed (bead-[0-9a-f-]+)/.exec((await reply.textContent())!)![1]!;
    await expect.poll(() => page.locator(`#beads li[data-bead-id="${beadId}"]`).count()).toBe(1);

    // dispatch a polecat, then stop it from its row
    await page.getByLabel('Role').selectOption('polecat');
    await page.getByLabel('Runtime').selectOption('builtin');
    await page.getByRole('button', { name: 'Dispatch' }).click();
    await expect.poll(() => page.locator('#action-feedback').textContent()).toMatch(/^Dispatched polecat ·[0-9a-f]{6} \(/);
    const shortId = /·([0-9a-f]{6})/.exec((await page.locator('#action-feedback').textContent())!)![1]!;
    const stop = page.getByRole('button', { name: `Stop polecat ·${shortId}` });
    await expect.poll(() => stop.count()).toBe(1);
    await stop.click();
    await expect.poll(() => page.locator('#action-feedback').textContent()).toBe(`Stopped polecat ·${shortId}.`);
    await expect.poll(() => page.locator(`#agents tr[data-agent-id$="${shortId}"]`).getAttribute('data-status')).toBe('stopped');

    // every control has a name a screen reader says
    const unnamed = await page
      .locator('input, select, textarea, button')
      .evaluateAll((els) => els.filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent?.trim())).map((el) => el.outerHTML.slice(0, 80)));
    expect(unnamed).toEqual([]);

    // refresh now
    await page.getByRole('button', { name: 'Refresh all tokens now' }).click();
    await expect.poll(() => page.locator('#action-feedback').textContent()).toMatch(/^Refresh pass: [1-9]\d* refreshed, 0 failed, 0 restarted\.$/);

    // stay open for ten session lifetimes
    const openFor = LIFETIMES * USER_TTL_SECONDS * 1000 + 1_000;
    await page.waitForTimeout(Math.max(0, signedInAt + openFor - Date.now()));
    const renewals = Number(await page.locator('#session-status').getAttribute('data-renewals'));
    expect(renewals).toBeGreaterThanOrEqual(LIFETIMES);
    expect(await page.locator('#session-status').getAttribute('data-state')).toBe('signed-in');
    expect(await page.locator('#timeline li[data-gaps]:not([data-gaps="0"])').count()).toBe(0);
    expect(await page.locator('.timeline-summary').getAttribute('data-agents-with-gaps')).toBe('0');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'town-laptop.png'), fullPage: true });

    // every event once: the page's feed is the server's stream, id for id
    const feed = page.locator('#feed-status');
    // one read of the page: the ids it shows and what its stream counted
    const shown = await page.locator('#events-heading').evaluate((heading) => {
      const panel = heading.closest('section')!;
      return {
        ids: [...panel.querySelectorAll('#feed li[data-event-id]')].map((e) => Number(e.getAttribute('data-event-id'))).reverse(),
        delivered: Number(panel.querySelector('#feed-status')!.getAttribute('data-delivered')),
        kept: Number(panel.querySelector('#feed')!.getAttribute('data-kept')),
      };
    });
    const pageIds: number[] = shown.ids;
    expect(pageIds.length).toBeLessThan(shown.kept);
    expect(new Set(pageIds).size).toBe(pageIds.length);
    expect(shown.delivered).toBe(pageIds.length);
    await eventually(async () => (server.ids.at(-1) ?? 0) >= pageIds.at(-1)!, 10_000, 'the server stream to reach the page');
    expect(pageIds).toEqual(server.ids.filter((id) => id <= pageIds.at(-1)!));
    expect(Number(await feed.getAttribute('data-gaps'))).toBe(0);
    // the server ends each connection when the cookie it was opened with expires (plus the 2 s leeway), and the page resumes on its renewed cookie
    const connections = Number(await feed.getAttribute('data-connections'));
    expect(connections).toBeGreaterThanOrEqual(Math.floor(openFor / ((USER_TTL_SECONDS + 2) * 1000)));

    // nothing went wrong, not even a request the page cut short
    expect(problems.consoleErrors).toEqual([]);
    expect(problems.pageErrors).toEqual([]);
    expect(problems.errorResponses).toEqual([]);
    expect(problems.failedRequests).toEqual([]);
    expect(f.worker.counts.denied).toEqual([]);

    // readable on a phone: nothing wider than the screen
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'town-phone.png'), fullPage: true });
    expect(await page.locator('html').evaluate((html) => html.scrollWidth)).toBeLessThanOrEqual(390);
    await page.setViewportSize({ width: 1280, height: 900 });

    console.log(
      `dashboard: open ${((Date.now() - signedInAt) / 1000).toFixed(0)} s = ${((Date.now() - signedInAt) / 1000 / USER_TTL_SECONDS).toFixed(1)} session lifetimes of ${USER_TTL_SECONDS} s; ` +
        `${renewals} renewals; ${connections} stream connections; ${pageIds.length} events shown, each once (ids ${pageIds[0]}..${pageIds.at(-1)}, ${await feed.getAttribute('data-duplicates')} repeats skipped); ` +
        `${problems.requests.length} requests, ${problems.consoleErrors.length} console errors, ${problems.errorResponses.length} error answers, ${problems.failedRequests.length} failed requests`,
    );
  });

  it('offline past the access cookie while the Worker restarts (every connection cut): the page renews its session and resumes its stream after the last id, every event once', async () => {
    const feed = page.locator('#feed-status');
    const status = page.locator('#session-status');
    const connectionsBefore = Number(await feed.getAttribute('data-connections'));
    const lastIdBefore = Number(await feed.getAttribute('data-last-id'));
    await context.setOffline(true);
    const outageStarted = Date.now();
    const renewalsBefore = await status.getAttribute('data-renewals');
    await f.town.restartWorker();
    await page.waitForTimeout(Math.max(0, outageStarted + (USER_TTL_SECONDS + 2) * 1000 - Date.now()));
    expect(await status.getAttribute('data-renewals'), 'no renewal while offline').toBe(renewalsBefore);
    await context.setOffline(false);
    const outageMs = Date.now() - outageStarted;
    await expect.poll(async () => Number(await feed.getAttribute('data-connections')), { timeout: 40_000 }).toBeGreaterThan(connectionsBefore);
    await expect.poll(() => page.locator('#session-status').getAttribute('data-state')).toBe('signed-in');
    await expect.poll(async () => Number(await feed.getAttribute('data-last-id')), { timeout: 20_000 }).toBeGreaterThan(lastIdBefore + 5);
    await expect.poll(() => page.locator('#town-error').textContent(), { timeout: 20_000 }).toBe('');

    // once settled, a lifetime with nothing wrong
    const settled = { console: problems.consoleErrors.length, failed: problems.failedRequests.length, errors: problems.errorResponses.length };
    await page.waitForTimeout(2 * USER_TTL_SECONDS * 1000);
    expect(problems.consoleErrors.slice(settled.console)).toEqual([]);
    expect(problems.errorResponses.slice(settled.errors)).toEqual([]);
    expect(problems.failedRequests.slice(settled.failed)).toEqual([]);

    const pageIds: number[] = (await page.locator('#feed li[data-event-id]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-event-id'))))).reverse();
    await eventually(async () => (server.ids.at(-1) ?? 0) >= pageIds.at(-1)!, 10_000, 'the server stream to reach the page');
    expect(new Set(pageIds).size).toBe(pageIds.length);
    expect(pageIds).toEqual(server.ids.filter((id) => id <= pageIds.at(-1)!));
    console.log(`dashboard: offline ${(outageMs / 1000).toFixed(1)} s (> one ${USER_TTL_SECONDS} s session lifetime) across a Worker restart; the page resumed at #${lastIdBefore} and shows ${pageIds.length} events, each once; ${problems.errorResponses.length} error answers and ${problems.consoleErrors.length} console lines, all during the outage: ${[...new Set(problems.consoleErrors)].join(' | ')}`);
  });

  it('an access cookie gone before its renewal: the action answered 401 renews the session once and is sent again, and succeeds', async () => {
    const status = page.locator('#session-status');
    // just after a renewal, so the page's own timer is seconds away
    const renewals = Number(await status.getAttribute('data-renewals'));
    await expect.poll(async () => Number(await status.getAttribute('data-renewals')), { timeout: USER_TTL_SECONDS * 1000 + 2_000 }).toBeGreaterThan(renewals);
    const seen = { errors: problems.errorResponses.length, requests: problems.requests.length };
    await context.clearCookies({ name: 'gastown_session' });
    await page.getByRole('button', { name: 'Refresh all tokens now' }).click();
    await expect.poll(() => page.locator('#action-feedback').textContent()).toMatch(/^Refresh pass: [1-9]\d* refreshed, 0 failed/);
    expect(problems.errorResponses.slice(seen.errors)).toEqual([`401 POST /api/towns/${townId}/refresh-tokens`]);
    const after = problems.requests.slice(seen.requests);
    expect(after.filter((r) => r === `POST /api/towns/${townId}/refresh-tokens`)).toHaveLength(2);
    expect(after.filter((r) => r === 'POST /api/session/refresh')).toHaveLength(1);
    expect(await status.getAttribute('data-state')).toBe('signed-in');
  });

  it('another origin cannot act with the session: cross-site gets 401 (no cookie), same-site 403 (origin refused); nothing changes', async () => {
    const before = await f.api.town(townId);
    const mayor = before.agents.find((a: { role: string }) => a.role === 'mayor');
    const elsewhere = await blankSite();
    try {
      const statuses: Record<string, number[]> = {};
      for (const origin of [`http://localhost:${elsewhere.port}`, `http://127.0.0.1:${elsewhere.port}`]) {
        const other = await context.newPage();
        const seen: number[] = (statuses[origin] = []);
        other.on('response', (r) => {
          if (r.url().startsWith(f.town.workerUrl)) seen.push(r.status());
        });
        await other.goto(`${origin}/`);
        await other.evaluate(
          async ({ worker, townId, mayorId }) => {
            const post = (path: string, body?: string) => fetch(`${worker}${path}`, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body });
            await post(`/api/towns/${townId}/rigs`, '{"name":"planted"}');
            await post(`/api/towns/${townId}/agents/${mayorId}/stop`);
            await post(`/api/towns/${townId}/refresh-tokens`);
          },
          { worker: f.town.workerUrl, townId, mayorId: mayor.id },
        );
        await expect.poll(() => seen.length).toBe(3);
        await other.close();
      }
      expect(statuses[`http://localhost:${elsewhere.port}`]).toEqual([401, 401, 401]);
      expect(statuses[`http://127.0.0.1:${elsewhere.port}`]).toEqual([403, 403, 403]);
    } finally {
      elsewhere.server.close();
    }
    const after = await f.api.town(townId);
    expect(after.rigs).toEqual(before.rigs);
    expect(after.agents.find((a: { id: string }) => a.id === mayor.id).status).not.toBe('stopped');
    // the dashboard itself carried on
    expect(await page.locator('#session-status').getAttribute('data-state')).toBe('signed-in');
  });

  it('signed out in another tab: the next renewal is refused (401), the sign-in form is back, the stream is closed, and the API answers 401', async () => {
    const tab = await context.newPage();
    await tab.goto(`${f.town.workerUrl}/`);
    await tab.getByRole('button', { name: 'Sign out' }).focus();
    await tab.keyboard.press('Enter');
    await expect.poll(() => tab.getByLabel('Client secret').count()).toBe(1);
    await tab.close();

    // the open page learns it at its next renewal, within one lifetime
    await expect.poll(() => page.getByLabel('Client secret').count(), { timeout: USER_TTL_SECONDS * 1000 + 2_000 }).toBe(1);
    expect(await page.locator('#session-status').getAttribute('data-state')).toBe('signed-out');
    expect(await page.locator('#sign-in-error').textContent()).toMatch(/sign in again/);
    // at most a call or two that met the cleared cookie, then one renewal (shared), refused: nothing else failed
    expect(problems.errorResponses.filter((r) => r === '401 POST /api/session/refresh')).toHaveLength(1);
    expect(problems.errorResponses.every((r) => r.startsWith('401 '))).toBe(true);
    const streamsBefore = problems.requests.filter((r) => r.endsWith('/events')).length;
    const answers = await page.evaluate(async (townId) => {
      const status = async (path: string, init?: RequestInit) => (await fetch(path, init)).status;
      return {
        towns: await status('/api/towns'),
        town: await status(`/api/towns/${townId}`),
        refresh: await status('/api/session/refresh', { method: 'POST' }),
        session: await (await fetch('/api/session')).json(),
      };
    }, townId);
    expect(answers).toEqual({ towns: 401, town: 401, refresh: 401, session: expect.objectContaining({ signedIn: false, refreshable: false }) });
    await page.waitForTimeout(USER_TTL_SECONDS * 1000);
    expect(problems.requests.filter((r) => r.endsWith('/events')).length).toBe(streamsBefore);
    expect(problems.pageErrors).toEqual([]);
  });

  it('should the sign-in handler fail to take the submit, the form posts the credentials to /api/session in its body, never in a URL, and is refused', async () => {
    const other = await browser.newContext();
    try {
      const tab = await other.newPage();
      await tab.goto(`${f.town.workerUrl}/`);
      const secret = f.town.vars.GASTOWN_CLIENT_SECRET!;
      await tab.getByLabel('Client id').fill(f.town.vars.GASTOWN_CLIENT_ID!);
      await tab.getByLabel('Client secret').fill(secret);
      // the page's own handler never sees the submit, as if it had failed before taking it over
      await tab.evaluate(`window.addEventListener('submit', (event) => event.stopPropagation(), { capture: true })`);
      const [request] = await Promise.all([tab.waitForRequest((r) => (r.isNavigationRequest() && r.method() !== 'GET') || new URL(r.url()).search !== ''), tab.getByRole('button', { name: 'Sign in' }).click()]);
      expect(request.method()).toBe('POST');
      expect(request.url()).toBe(`${f.town.workerUrl}/api/session`);
      expect(new URLSearchParams(request.postData() ?? '').get('client_secret')).toBe(secret);
      // the route refuses it (the page's no-referrer policy makes the browser send `Origin: null`): no session without the page
      const answer = await request.response();
      expect(answer?.status()).toBe(403);
      expect(await answer?.text()).not.toContain(secret);
      expect(await other.cookies()).toEqual([]);
      expect(tab.url()).toBe(`${f.town.workerUrl}/api/session`);
    } finally {
      await other.close();
    }
  });
});

/** Reads the town's event stream with a bearer token from the start, alongside the page, reconnecting after the last id. */
function readTownStream(api: GastownApi, townId: string): { ids: number[]; close(): void } {
  const ids: number[] = [];
  const controller = new AbortController();
  void (async () => {
    while (!controller.signal.aborted) {
      try {
        const res = await fetch(`${api.baseUrl}/api/towns/${townId}/events?after=${ids.at(-1) ?? 0}`, { headers: { authorization: `Bearer ${await api.token()}` }, signal: controller.signal });
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        const parser = createParser({ onEvent: (e) => void (e.id && e.event !== 'gap' && ids.push(Number(e.id))) });
        for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) parser.feed(chunk);
      } catch {
        if (!controller.signal.aborted) await new Promise((r) => setTimeout(r, 500));
      }
    }
  })();
  return { ids, close: () => controller.abort() };
}
