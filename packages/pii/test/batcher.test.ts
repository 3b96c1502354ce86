import { describe, expect, it } from 'vitest';
import { InFlightBatcher } from '../src/batcher.js';

/** A batcher whose runs wait until released, recording every batch it was given. */
function harness(options: { maxInFlight: number; maxBatch: number }, fail?: (batch: number[]) => boolean) {
  const batches: number[][] = [];
  const release: (() => void)[] = [];
  const b = new InFlightBatcher<number, string>(async (inputs) => {
    batches.push(inputs);
    await new Promise<void>((r) => release.push(r));
    if (fail?.(inputs)) throw new Error(`batch ${inputs.join(',')} failed`);
    return inputs.map((i) => `r${i}`);
  }, options);
  const settle = () => new Promise((r) => setImmediate(r));
  return { b, batches, release: async () => { release.splice(0).forEach((r) => r()); await settle(); }, settle };
}

describe('InFlightBatcher', () => {
  it('sends a request at once when a slot is free, and what arrives meanwhile as the next batch', async () => {
    const h = harness({ maxInFlight: 1, maxBatch: 32 });
    const first = h.b.submit(1);
    await h.settle();
    expect(h.batches).toEqual([[1]]);
    const rest = [2, 3, 4].map((i) => h.b.submit(i));
    await h.settle();
    expect(h.batches).toEqual([[1]]); // waiting for the slot
    await h.release();
    expect(await first).toBe('r1');
    expect(h.batches).toEqual([[1], [2, 3, 4]]);
    await h.release();
    expect(await Promise.all(rest)).toEqual(['r2', 'r3', 'r4']);
  });

  it('keeps maxInFlight batches running and splits at maxBatch', async () => {
    const h = harness({ maxInFlight: 2, maxBatch: 3 });
    const all = Array.from({ length: 10 }, (_, i) => h.b.submit(i));
    await h.settle();
    expect(h.batches).toEqual([[0], [1]]); // each found a free slot
    await h.release();
    expect(h.batches.slice(2)).toEqual([[2, 3, 4], [5, 6, 7]]);
    await h.release();
    expect(h.batches.slice(4)).toEqual([[8, 9]]);
    await h.release();
    expect(await Promise.all(all)).toEqual(all.map((_, i) => `r${i}`));
  });

  it('a failed batch rejects its own requests only', async () => {
    const h = harness({ maxInFlight: 1, maxBatch: 2 }, (batch) => batch.includes(2));
    const p = [1, 2, 3, 4].map((i) => h.b.submit(i).then((v) => v, (e: Error) => e.message));
    for (let i = 0; i < 3; i++) await h.release();
    expect(await Promise.all(p)).toEqual(['r1', 'batch 2,3 failed', 'batch 2,3 failed', 'r4']);
  });

  it('refuses limits that are not positive integers', () => {
    expect(() => new InFlightBatcher(async () => [], { maxInFlight: 0, maxBatch: 1 })).toThrow(RangeError);
    expect(() => new InFlightBatcher(async () => [], { maxInFlight: 1, maxBatch: 1.5 })).toThrow(RangeError);
  });
});
