import { describe, expect, it } from "vitest";
import * as o from "../../src/ir/ops.js";
import { Graph } from "../../src/ir/tensor.js";
import { Compiled, scalarI64 } from "../../src/runtime/session.js";

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The lowering's hash, written again in plain JS: one mixing round of (i·G) ^ fmix32(seed). */
function keepRef(i: number, seed: number, rate: number): boolean {
  let x = Math.imul((Math.imul(i, 0x9e3779b9) ^ fmix32(seed >>> 0)) >>> 0, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  const h = Math.imul(x, 0x846ca68b) >>> 0;
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
    const [m] = await masks(0.3, [seed], [300, 700]);
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

  it("is uncorrelated between neighbouring units, rows and consecutive seeds", async () => {
    const [m, next] = await masks(0.5, [3, 4], [200, 500]);
    const agreement = (a: Float32Array, b: Float32Array, lag: number) => {
      let same = 0;
      for (let i = lag; i < a.length; i++) if (a[i]! > 0 === b[i - lag]! > 0) same++;
      return same / (a.length - lag);
    };
    // 100,000 pairs: the standard error of the agreement rate is 0.0016.
    for (const lag of [1, 2, 3, 499, 500, 501, 1000])
      expect(Math.abs(agreement(m!, m!, lag) - 0.5), `lag ${lag}`).toBeLessThan(0.008);
    expect(Math.abs(agreement(m!, next!, 0) - 0.5)).toBeLessThan(0.008);
  });
});
