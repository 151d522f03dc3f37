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

/** A TownDO refresh pass as the Worker logs it (`{"msg":"refresh pass", ...}`). */
export interface RefreshPassLine {
  refreshed: number;
  failed: number;
  restarted: number;
  stallChecks: number;
  subrequests: number;
}

/** The refresh pass a Worker log line reports, or null for any other line. */
export function parseRefreshPass(line: string): RefreshPassLine | null {
  const start = line.indexOf('{"msg":"refresh pass"');
  if (start < 0) return null;
  try {
    const pass = JSON.parse(line.slice(start)) as Partial<RefreshPassLine>;
    return { refreshed: pass.refreshed ?? 0, failed: pass.failed ?? 0, restarted: pass.restarted ?? 0, stallChecks: pass.stallChecks ?? 0, subrequests: pass.subrequests ?? 0 };
  } catch {
    return null;
  }
}
