import type { Command } from 'commander';
import type { Agent } from '../../sdk/index.ts';
import type { CliContext } from '../context.ts';
import { duration, relative, table, type Emphasis } from '../output.ts';

const LIVE = new Set(['starting', 'working', 'idle', 'stalled']);
/** A live token with less left than min(this, a quarter of its lifetime) stands out. */
const SOON_MS = 10 * 60_000;

/** Why an agent row needs a look, or null. */
export function attention(agent: Agent, now: number): 'stalled' | 'token expired' | 'expires soon' | 'refresh failing' | null {
  if (!LIVE.has(agent.status)) return null;
  if (agent.status === 'stalled') return 'stalled';
  if (agent.tokenExpiresAt) {
    const expiresAt = Date.parse(agent.tokenExpiresAt);
    const since = Date.parse(agent.tokenRefreshedAt ?? agent.createdAt);
    const lifetime = Number.isNaN(since) ? SOON_MS * 4 : expiresAt - since;
    if (expiresAt <= now) return 'token expired';
    if (expiresAt - now < Math.min(SOON_MS, lifetime / 4)) return 'expires soon';
  }
  if (agent.refreshFailures > 0) return 'refresh failing';
  return null;
}

/** `tokens [town]`: each agent's token health. */
export function registerTokens(program: Command, cli: CliContext): void {
  program
    .command('tokens')
    .description("each agent's token: expiry, last refresh, refresh count, heartbeat age (stalled and expiring rows stand out)")
    .argument('[town]', 'town id (default: your only town)')
    .option('--all', 'include agents that have ended')
    .action(async (given: string | undefined, options: { all?: boolean }, command: Command) => {
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const town = await cli.wait('reading the town', client.getTown(townId));
      const now = Date.now();
      const agents = town.agents.filter((a) => options.all || LIVE.has(a.status));
      const rows = agents.map((a) => ({
        agentId: a.id,
        role: a.role,
        status: a.status,
        tokenExpiresAt: a.tokenExpiresAt,
        expiresInSeconds: a.tokenExpiresAt ? Math.round((Date.parse(a.tokenExpiresAt) - now) / 1000) : null,
        tokenRefreshedAt: a.tokenRefreshedAt,
        refreshCount: a.refreshCount,
        refreshFailures: a.refreshFailures,
        nextRefreshAt: a.nextRefreshAt,
        lastHeartbeatAt: a.lastHeartbeatAt,
        heartbeatAgeSeconds: a.lastHeartbeatAt ? Math.round((now - Date.parse(a.lastHeartbeatAt)) / 1000) : null,
        attention: attention(a, now),
      }));
      cli.print(command, { townId, at: new Date(now).toISOString(), agents: rows }, () => {
        if (rows.length === 0) return options.all ? 'no agents' : 'no live agents (--all shows ended ones)';
        const emphasis: Emphasis[] = rows.map((r) => (r.attention === 'stalled' || r.attention === 'token expired' ? 'bad' : r.attention ? 'warn' : undefined));
        return table(
          ['AGENT', 'ROLE', 'STATUS', 'EXPIRES', 'REFRESHED', 'REFRESHES', 'HEARTBEAT', 'NOTE'],
          rows.map((r) => [
            r.agentId,
            r.role,
            r.status,
            r.tokenExpiresAt ? relative(r.tokenExpiresAt, now) : '-',
            relative(r.tokenRefreshedAt, now),
            r.refreshFailures > 0 ? `${r.refreshCount} (${r.refreshFailures} failed)` : String(r.refreshCount),
            r.heartbeatAgeSeconds === null ? '-' : `${duration(r.heartbeatAgeSeconds * 1000)} ago`,
            r.attention ? `! ${r.attention}` : '',
          ]),
          { color: cli.color, emphasis },
        );
      });
    });
}

/** `refresh [town]`: a refresh pass now, with each agent's result. */
export function registerRefresh(program: Command, cli: CliContext): void {
  program
    .command('refresh')
    .description("run a token refresh pass now and show each agent's result")
    .argument('[town]', 'town id (default: your only town)')
    .action(async (given: string | undefined, _options, command: Command) => {
      const client = cli.client(command);
      const townId = await cli.town(client, given);
      const report = await cli.wait('refreshing tokens', client.refreshTokens(townId));
      const now = Date.now();
      cli.print(command, report, () => {
        const summary = `refreshed ${report.refreshed}, failed ${report.failed}, restarted ${report.restarted} (${report.subrequests} requests to the container)`;
        if (report.results.length === 0) return `${summary}\nno live agents`;
        const rows = report.results.map((r) => [r.agentId, r.result, String(r.status), relative(r.tokenExpiresAt, now)]);
        const emphasis: Emphasis[] = report.results.map((r) => (r.result === 'restart_failed' ? 'bad' : r.result === 'refreshed' ? undefined : 'warn'));
        return `${table(['AGENT', 'RESULT', 'STATUS', 'TOKEN EXPIRES'], rows, { color: cli.color, emphasis })}\n${summary}`;
      });
    });
}
