import { busyUids } from './proc.ts';

/** The uids agents run under when the control server is root: one per live agent. */
export const AGENT_UID_FIRST = 20_000;
export const AGENT_UID_LAST = 29_999;

/**
 * Allocates a uid (and the gid of the same number) per agent, and takes it back once
 * everything that ran under it is gone. A uid any running process still holds (another
 * control server's agent on the same machine, a straggler) is skipped. Allocation starts
 * at a random point of the pool, so two servers sharing a machine rarely meet.
 */
export class UidPool {
  readonly #held = new Set<number>();
  #next: number;

  constructor(random: () => number = Math.random) {
    this.#next = AGENT_UID_FIRST + Math.floor(random() * (AGENT_UID_LAST - AGENT_UID_FIRST + 1));
  }

  get held(): number {
    return this.#held.size;
  }

  /** A free uid, or null when the pool is exhausted. */
  allocate(): number | null {
    const busy = busyUids();
    const size = AGENT_UID_LAST - AGENT_UID_FIRST + 1;
    for (let i = 0; i < size; i++) {
      const uid = this.#next;
      this.#next = uid === AGENT_UID_LAST ? AGENT_UID_FIRST : uid + 1;
      if (!this.#held.has(uid) && !busy.has(uid)) {
        this.#held.add(uid);
        return uid;
      }
    }
    return null;
  }

  release(uid: number): void {
    this.#held.delete(uid);
  }
}
