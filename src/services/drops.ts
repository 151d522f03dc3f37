import type { ContainerClaims } from '../domain/tokens';
import type { DropReport } from '../storage/drop-store';
import { acceptContainerCredential } from './container-credential';
import type { TownContext } from './town-context';

/**
 * The container's reports of what it could not deliver (idempotent by report id): each new
 * report is counted by kind and cause in the town, announced on the event stream and
 * logged, so no drop goes unseen.
 */
export function storeDropReports(ctx: TownContext, credential: ContainerClaims, reports: readonly DropReport[]) {
  acceptContainerCredential(ctx, credential);
  let accepted = 0;
  ctx.transaction(() => {
    for (const report of reports) {
      if (!ctx.drops.add(report, ctx.now())) continue;
      accepted++;
      ctx.towns.addToCounter(`drops:${report.kind}:${report.cause}`, report.count);
      ctx.emit('events.dropped', { agentId: report.agentId, kind: report.kind, cause: report.cause, count: report.count });
      console.warn(JSON.stringify({ msg: 'container dropped items', town: credential.townId, agentId: report.agentId, kind: report.kind, cause: report.cause, count: report.count }));
    }
    if (accepted > 0) ctx.drops.trim();
  });
  return { accepted, duplicates: reports.length - accepted };
}
