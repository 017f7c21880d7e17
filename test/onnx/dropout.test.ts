import { describe, expect, it } from "vitest";
import * as o from "../../src/ir/ops.js";
import { Graph } from "../../src/ir/tensor.js";
import { Compiled, scalarI64 } from "../../src/runtime/session.js";

/** The lowering's hash, written again in plain JS: murmur3 fmix32 of (i · 0x9e3779b1) ^ seed. */
function keepRef(i: number, seed: number, rate: number): boolean {
  let h = (Math.imul(i, 0x9e3779b1) ^ seed) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h >= Math.round(rate * 2 ** 32);
}

async function masks(rate: number, seeds: number[], shape: [number, number]) {
  const g = new Graph();
  const x = g.input("x", ["batch", shape[1]]);
  const seed = g.input("seed", [], "int64");
  const c = await Compiled.compile({ inputs: [x, seed], outputs: { m: o.dropoutMask(seed, x, rate) } });
  const out: Float32Array[] = [];
  for (const s of seeds) {
    const r = await c.run({
      x: { data: new Float32Array(shape[0] * shape[1]), dims: shape },
      seed: scalarI64(s),
    });
    out.push(r.m!.data as Float32Array);
  }
  await c.release();
  return out;
}

describe("dropoutMask", () => {
  it("matches the reference hash bit for bit (uint32 wraparound is exact)", async () => {
    const seed = 0xdeadbeef;
    const [m] = await masks(0.3, [seed], [64, 50]);
    let mismatches = 0;
    m!.forEach((v, i) => {
      const expected = keepRef(i, seed, 0.3) ? 1 / 0.7 : 0;
      if (Math.abs(v - expected) > 1e-6) mismatches++;
    });
    expect(mismatches).toBe(0);
  });

  it("keeps each unit with probability 1 − rate, scaled by 1/(1 − rate)", async () => {
    for (const rate of [0.2, 0.5]) {
      const [m] = await masks(rate, [7], [500, 400]);
      const kept = m!.filter((v) => v > 0).length / m!.length;
      // 200,000 Bernoulli draws: the standard error is below 0.0012.
      expect(Math.abs(kept - (1 - rate))).toBeLessThan(0.005);
      expect(Math.abs(m!.reduce((a, b) => a + b, 0) / m!.length - 1)).toBeLessThan(0.01);
    }
  });

  it("gives different masks for different seeds and the same mask for the same seed", async () => {
    const [a, b, a2] = await masks(0.5, [1, 2, 1], [32, 32]);
    const differ = a!.filter((v, i) => v !== b![i]).length / a!.length;
    expect(differ).toBeGreaterThan(0.4);
    expect(Array.from(a!)).toEqual(Array.from(a2!));
  });

  it("is uncorrelated between neighbouring units", async () => {
    const [m] = await masks(0.5, [3], [200, 500]);
    let same = 0;
    for (let i = 1; i < m!.length; i++) if (m![i]! > 0 === m![i - 1]! > 0) same++;
    expect(Math.abs(same / (m!.length - 1) - 0.5)).toBeLessThan(0.01);
  });
});
