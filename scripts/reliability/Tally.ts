/** Counts by label, in the order the labels first appeared. */
export class Tally {
  readonly #counts = new Map<string, number>();

  add(label: string, n = 1): void {
    this.#counts.set(label, (this.#counts.get(label) ?? 0) + n);
  }

  get(label: string): number {
    return this.#counts.get(label) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  entries(): [string, number][] {
    return [...this.#counts];
  }
}
