import type { ContainerClaims } from '../domain/tokens';
import { AppError } from '../errors';
import { requireTown, type TownContext } from './town-context';

/**
 * The generation check of a container credential whose signature and town the Worker
 * verified. Credentials older than the town's current one belong to a replaced container
 * (401). A newer one was handed to a container by a start whose answer the TownDO never
 * saw: that container is the current one, and its generation is recorded.
 */
export function acceptContainerCredential(ctx: TownContext, claims: ContainerClaims): void {
  const town = requireTown(ctx);
  if (claims.cgen < town.containerCredentialGen) throw new AppError('unauthorized', 'container credential replaced by a newer container');
  if (claims.cgen > town.containerCredentialGen) ctx.towns.setCredentialGen(claims.cgen);
}
