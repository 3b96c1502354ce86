/**
 * Group commit for requests: at most `maxInFlight` batches run at once; requests that arrive
 * while they run wait and leave together as the next batch (at most `maxBatch` of them). A
 * request that finds a free slot leaves at once, alone: no timer, so an idle service adds no
 * latency, and a busy one pays one statement and one commit for many requests.
 *
 * `run` answers a batch with one result per request, in order; when it throws, every request of
 * that batch gets the error.
 *
 * (Hand-written: DataLoader batches per event-loop tick, which under a steady stream of awaited
 * requests sends batches of one; what we need is batching by what is in flight.)
 */
export class InFlightBatcher<I, O> {
  readonly #run: (inputs: I[]) => Promise<O[]>;
  readonly #maxInFlight: number;
  readonly #maxBatch: number;
  #queue: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  #inFlight = 0;

  constructor(run: (inputs: I[]) => Promise<O[]>, options: { maxInFlight: number; maxBatch: number }) {
    for (const [name, v] of Object.entries(options)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`);
    }
    this.#run = run;
    this.#maxInFlight = options.maxInFlight;
    this.#maxBatch = options.maxBatch;
  }

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ input, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight++;
      this.#run(batch.map((b) => b.input))
        .then((out) => batch.forEach((b, i) => b.resolve(out[i]!)), (e: unknown) => batch.forEach((b) => b.reject(e)))
        .finally(() => {
          this.#inFlight--;
          this.#pump();
        });
    }
  }
}
