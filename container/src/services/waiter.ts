/**
 * One wait that can be cut short: a retry loop sleeps here (a backoff, or until woken),
 * and `wake()` ends the wait at once (a new token, a new credential, shutdown).
 */
export class Waiter {
  #wake: (() => void) | null = null;

  /** True while a wait is under way. */
  get waiting(): boolean {
    return this.#wake !== null;
  }

  /** Waits `ms` (null: until woken). */
  sleep(ms: number | null): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      if (ms !== null) timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }

  /** Ends the current wait; false when there was none. */
  wake(): boolean {
    const wake = this.#wake;
    wake?.();
    return wake !== null;
  }
}
