import type { IdleCheck } from '../domain/container-sleep';
import type { Env } from '../env';

/** Tells a town its container stopped, so the TownDO checks for its live agents at once. */
export async function reportContainerStopped(env: Pick<Env, 'TOWN'>, townId: string, stop: { exitCode: number; reason: string }): Promise<void> {
  const result = await env.TOWN.getByName(townId).containerStopped(stop);
  if (!result.ok) console.error(JSON.stringify({ msg: 'could not tell the town its container stopped', town: townId, error: result.error.code }));
}

/** Asks the control server (`GET /stats`, through `fetchStats`) how many agents run; any failure is a failed check. */
export async function checkIdle(fetchStats: (init: RequestInit) => Promise<Response>, controlSecret: string): Promise<IdleCheck> {
  try {
    const res = await fetchStats({ headers: { authorization: `Bearer ${controlSecret}` }, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return { failed: true };
    const stats = (await res.json()) as { agentsRunning?: unknown };
    return typeof stats.agentsRunning === 'number' ? { agentsRunning: stats.agentsRunning } : { failed: true };
  } catch {
    return { failed: true };
  }
}
