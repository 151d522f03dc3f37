/**
 * Why an item was dropped rather than delivered (`truncated`: delivered, cut to what one
 * event may hold; `journal_torn`: its only journal record was torn by a crash mid-write).
 */
export const DROP_CAUSES = ['overflow', 'too_large', 'refused', 'agent_ended', 'superseded', 'truncated', 'journal_torn'] as const;
export type DropCause = (typeof DROP_CAUSES)[number];

/** What was dropped: an agent event, a completion report, a review callback. */
export const ITEM_KINDS = ['event', 'completed', 'reviewComplete'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

/** Drop counts by kind, then cause (all zero to start). */
export type DropCounts = Record<ItemKind, Record<DropCause, number>>;

export function emptyDropCounts(): DropCounts {
  const byCause = () => Object.fromEntries(DROP_CAUSES.map((c) => [c, 0])) as Record<DropCause, number>;
  return { event: byCause(), completed: byCause(), reviewComplete: byCause() };
}

/** One drop report as the Worker takes it (`POST /api/towns/:townId/container/drops`). */
export interface DropReport {
  /** Unique, and the same on every retry: the Worker stores reports idempotently by id. */
  id: string;
  agentId: string;
  cause: DropCause;
  kind: ItemKind;
  count: number;
}

/** Most reports in one POST. */
export const REPORTS_PER_REQUEST = 500;
