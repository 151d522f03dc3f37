import { emptyDropCounts, type DropCause, type ItemKind } from '../domain/drops.ts';

/** Counters of the control server (GET /stats). Never token values, never content. */
export class Stats {
  requests = { heartbeat: 0, events: 0, completed: 0, reviewComplete: 0 };
  responses = { '2xx': 0, '401_expired': 0, '401_revoked': 0, '401_other': 0, '403': 0, '413': 0, other: 0 };
  remints = 0;
  remintFailures = 0;
  tokensAccepted = 0;
  tokensRejected409 = 0;
  eventsQueued = 0;
  /** Events made durable in the journal (sendable from then on). */
  eventsJournaled = 0;
  /** Events the Worker stored (or already had: a duplicate id). */
  eventsDelivered = 0;
  /** Dropped items by kind and cause. */
  drops = emptyDropCounts();
  dropReports = { queued: 0, accepted: 0, duplicates: 0, refused: 0 };
  agentsStarted = 0;
  /** Agents a previous control server left running, ended at boot. */
  leftoverAgentsEnded = 0;

  countDrop(kind: ItemKind, cause: DropCause, count: number): void {
    this.drops[kind][cause] += count;
  }

  /** Counts a Worker response by class (401s by their error code). */
  countResponse(status: number, code: string | undefined): void {
    if (status >= 200 && status < 300) this.responses['2xx']++;
    else if (status === 401 && code === 'token_expired') this.responses['401_expired']++;
    else if (status === 401 && code === 'token_revoked') this.responses['401_revoked']++;
    else if (status === 401) this.responses['401_other']++;
    else if (status === 403) this.responses['403']++;
    else if (status === 413) this.responses['413']++;
    else this.responses.other++;
  }
}
