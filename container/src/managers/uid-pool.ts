import { busyUids } from './proc.ts';

/** The uids agents run under when the control server is root: one per live agent. */
export const AGENT_UID_FIRST = 20_000;
export const AGENT_UID_LAST = 29_999;

/** Which uids a pool hands out (the range is inclusive), and where it starts. */
export interface UidPoolOptions {
  first?: number;
  last?: number;
  random?: () => number;
}

/**
 * Allocates a uid (and the gid of the same number) per agent, and takes it back once
 * everything that ran under it is gone. A uid any running process still holds (another
 * control server's agent on the same machine, a straggler) is skipped. Allocation starts
 * at a random point of the pool, so two servers sharing a machine rarely meet.
 */
export class UidPool {
  readonly first: number;
  readonly last: number;
  readonly #held = new Set<number>();
  #next: number;

  constructor({ first = AGENT_UID_FIRST, last = AGENT_UID_LAST, random = Math.random }: UidPoolOptions = {}) {
    this.first = first;
    this.last = last;
    this.#next = first + Math.floor(random() * (last - first + 1));
  }

  get held(): number {
    return this.#held.size;
  }

  /** Whether `uid` is one this pool hands out. */
  includes(uid: number): boolean {
    return uid >= this.first && uid <= this.last;
  }

  /** A free uid, or null when the pool is exhausted. */
  allocate(): number | null {
    const busy = busyUids();
    const size = this.last - this.first + 1;
    for (let i = 0; i < size; i++) {
      const uid = this.#next;
      this.#next = uid === this.last ? this.first : uid + 1;
      if (!this.#held.has(uid) && !busy.has(uid)) {
        this.#held.add(uid);
        return uid;
      }
    }
    return null;
  }

  /** Holds `uid` (not handed out until released); false when it is held already. */
  hold(uid: number): boolean {
    if (this.#held.has(uid)) return false;
    this.#held.add(uid);
    return true;
  }

  release(uid: number): void {
    this.#held.delete(uid);
  }
}
