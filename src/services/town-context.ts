import type { GastownConfig } from '../domain/config';
import type { KeyRing } from '../domain/signing-keys';
import { AppError } from '../errors';
import type { AgentStore } from '../storage/agent-store';
import type { BeadStore } from '../storage/bead-store';
import type { ConversationStore } from '../storage/conversation-store';
import type { DropStore } from '../storage/drop-store';
import type { EventStore } from '../storage/event-store';
import type { MailStore } from '../storage/mail-store';
import type { TokenHistoryStore } from '../storage/token-history-store';
import type { TownRow, TownStore } from '../storage/town-store';
import type { ControlClient } from './control-client';

/** Everything a TownDO service needs: stores, configuration, the control-server seam, a clock. */
export interface TownContext {
  config: GastownConfig;
  towns: TownStore;
  agents: AgentStore;
  beads: BeadStore;
  mail: MailStore;
  events: EventStore;
  conversation: ConversationStore;
  drops: DropStore;
  tokenHistory: TokenHistoryStore;
  control: ControlClient;
  keys(): Promise<KeyRing>;
  now(): number;
  random(): number;
  /** Runs `fn` as one SQLite transaction: all of its writes happen, or none. */
  transaction<T>(fn: () => T): T;
  /** Appends a town event (SSE). */
  emit(type: string, data: Record<string, unknown>): void;
  /** Re-arms the one alarm for the earliest due work (or clears it). */
  rearm(): Promise<void>;
}

/** The town row, or 404 when this Durable Object holds no town. */
export function requireTown(ctx: TownContext): TownRow {
  const town = ctx.towns.get();
  if (!town) throw new AppError('not_found', 'town not found');
  return town;
}
