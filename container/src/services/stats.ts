/** Counters of the control server (GET /stats). Never token values. */
export class Stats {
  requests = { heartbeat: 0, events: 0, completed: 0, reviewComplete: 0 };
  responses = { '2xx': 0, '401_expired': 0, '401_revoked': 0, '401_other': 0, '403': 0, other: 0 };
  remints = 0;
  remintFailures = 0;
  tokensAccepted = 0;
  tokensRejected409 = 0;
  eventsQueued = 0;
  eventsDelivered = 0;
  /** Events dropped past the per-agent bound (or refused by the Worker as invalid). */
  eventsDropped = 0;
  /** Events a revoked agent could no longer deliver. */
  eventsDroppedRevoked = 0;
  /** Events still buffered when their agent was stopped or the control server shut down. */
  eventsDroppedStopped = 0;
  agentsStarted = 0;

  /** Counts a Worker response by class (401s by their error code). */
  countResponse(status: number, code: string | undefined): void {
    if (status >= 200 && status < 300) this.responses['2xx']++;
    else if (status === 401 && code === 'token_expired') this.responses['401_expired']++;
    else if (status === 401 && code === 'token_revoked') this.responses['401_revoked']++;
    else if (status === 401) this.responses['401_other']++;
    else if (status === 403) this.responses['403']++;
    else this.responses.other++;
  }
}
