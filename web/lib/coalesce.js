/**
 * A loader that many triggers share: `fn` never runs twice at once, runs again once if
 * triggered while running, and at most once per `minIntervalMs`. Returns `trigger()` and
 * `cancel()`.
 */
export function coalesced(fn, minIntervalMs) {
  let running = false;
  let pending = false;
  let timer = null;
  let lastStart = -Infinity;
  let cancelled = false;

  async function run() {
    timer = null;
    if (cancelled) return;
    running = true;
    pending = false;
    lastStart = Date.now();
    try {
      await fn();
    } catch {
      // fn shows its own errors
    } finally {
      running = false;
      if (pending) trigger();
    }
  }

  function trigger() {
    if (cancelled) return;
    if (running) {
      pending = true;
      return;
    }
    if (timer !== null) return;
    timer = setTimeout(run, Math.max(0, lastStart + minIntervalMs - Date.now()));
  }

  return {
    trigger,
    cancel() {
      cancelled = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}
