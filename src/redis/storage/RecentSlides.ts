/**
 * Which sessions this instance slid lately, so that a burst of reads of one session sends
 * one PEXPIRE instead of one per read (DESIGN: slides may be coalesced). A session counts
 * as freshly slid for at most min(1 s, ttl / 20): its expiry is then never more than that
 * short of now + ttl, and a sub-second TTL is still slid on nearly every read.
 *
 * Two generations of a Set, rotated at most every third of the window: a mark is at most
 * two rotations old when it is last seen, and a rotation is due once a third has passed,
 * so no mark is trusted for longer than the window. Memory is bounded by the sessions
 * read in the last second; no per-session timer or timestamp is kept.
 */
export class RecentSlides {
  #current = new Set<string>();
  #previous = new Set<string>();
  #rotatedAt = 0;
  #third = -1;

  /** True when `key` was slid by this instance within the window for `ttlMs`. */
  fresh(key: string, ttlMs: number, now: number): boolean {
    this.#rotate(ttlMs, now);
    if (this.#third === 0) return false;
    return this.#current.has(key) || this.#previous.has(key);
  }

  /** Records a slide of `key` done at `now`. */
  mark(key: string, ttlMs: number, now: number): void {
    this.#rotate(ttlMs, now);
    this.#current.add(key);
  }

  /** Forgets `key` (it was destroyed or found missing). */
  forget(key: string): void {
    this.#current.delete(key);
    this.#previous.delete(key);
  }

  #rotate(ttlMs: number, now: number): void {
    const third = Math.floor(Math.min(1000, ttlMs / 20) / 3);
    if (third !== this.#third) {
      // A different TTL: start over rather than reason about the old window.
      this.#third = third;
      this.#current = new Set();
      this.#previous = new Set();
      this.#rotatedAt = now;
      return;
    }
    const age = now - this.#rotatedAt;
    if (age < third) return;
    this.#previous = age < 2 * third ? this.#current : new Set();
    this.#current = new Set();
    this.#rotatedAt = now;
  }
}
