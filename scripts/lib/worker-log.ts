/** Counts of HTTP responses the Worker logged (wrangler dev prints one line per request). */
export interface StatusCounts {
  total: number;
  byStatus: Record<string, number>;
  /** 401/403 lines, path with ids elided, for diagnosis. */
  denied: string[];
}

const REQUEST_LINE = /\b(GET|POST|PUT|DELETE|PATCH) (\/\S*) (\d{3})\b/;

/** Creates a counter fed with wrangler dev output lines. */
export function workerStatusCounter(): { counts: StatusCounts; feed(line: string): void; reset(): void } {
  const counts: StatusCounts = { total: 0, byStatus: {}, denied: [] };
  return {
    counts,
    feed(line) {
      const m = REQUEST_LINE.exec(line);
      if (!m) return;
      counts.total++;
      counts.byStatus[m[3]!] = (counts.byStatus[m[3]!] ?? 0) + 1;
      if (m[3] === '401' || m[3] === '403') counts.denied.push(`${m[1]} ${m[2]!.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, ':id')} ${m[3]}`);
    },
    reset() {
      counts.total = 0;
      counts.byStatus = {};
      counts.denied = [];
    },
  };
}
