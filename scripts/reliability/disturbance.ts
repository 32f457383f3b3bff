/**
 * Whether a fault that takes the storage or the server away is under way (or just ended,
 * while clients reconnect). A bad input answered UNAVAILABLE then is the outage speaking,
 * not the validation; outside such a window it is a wrong answer.
 */
export class Disturbance {
  #open = 0;
  #calmAt = 0;

  constructor(private readonly settleMs = 3000) {}

  async during<T>(fn: () => Promise<T>): Promise<T> {
    this.#open++;
    try {
      return await fn();
    } finally {
      this.#open--;
      this.#calmAt = Date.now() + this.settleMs;
    }
  }

  get active(): boolean {
    return this.#open > 0 || Date.now() < this.#calmAt;
  }
}
