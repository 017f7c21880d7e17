import { describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import { Graph } from "../../src/ir/tensor.js";
import { logitMatchingLoss, softTargetLoss } from "../../src/losses/losses.js";
import { Compiled } from "../../src/runtime/session.js";
import { Rng } from "../../src/util/rng.js";
import { checkVjp } from "../helpers/gradcheck.js";

const B = 4;
const N = 10;

function softmax(row: Float64Array, T: number): Float64Array {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp((v - m) / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Autodiff gradient of the loss with respect to the student's logits, in float64. */
async function gradOf(
  loss: "soft" | "match",
  z: Float64Array,
  v: Float64Array,
  T: number,
): Promise<Float64Array> {
  const g = new Graph();
  const zt = g.input("z", [B, N], "float64");
  const vt = g.input("v", [B, N], "float64");
  const l = loss === "soft" ? softTargetLoss(zt, vt, T) : logitMatchingLoss(zt, vt);
  const [dz] = grad(l, [zt]);
  const c = await Compiled.compile({ inputs: [zt, vt], outputs: { dz: dz! } });
  const r = await c.run({ z: { data: z, dims: [B, N] }, v: { data: v, dims: [B, N] } });
  await c.release();
  return r.dz!.data as Float64Array;
}

function randomLogits(seed: number, scale = 3): [Float64Array, Float64Array] {
  const r = new Rng(seed);
  return [
    Float64Array.from({ length: B * N }, () => scale * r.normal()),
    Float64Array.from({ length: B * N }, () => scale * r.normal()),
  ];
}

describe("the soft-target term", () => {
  it("has gradient T²·(1/T)(q − p) per example (batch-mean loss: divided by B)", async () => {
    const [z, v] = randomLogits(1);
    for (const T of [1, 2.5, 20]) {
      const dz = await gradOf("soft", z, v, T);
      for (let b = 0; b < B; b++) {
        const q = softmax(z.subarray(b * N, (b + 1) * N), T);
        const p = softmax(v.subarray(b * N, (b + 1) * N), T);
        for (let i = 0; i < N; i++) {
          const expected = (T * T * (1 / T) * (q[i]! - p[i]!)) / B;
          expect(dz[b * N + i]).toBeCloseTo(expected, 12);
        }
      }
    }
  });

  it("agrees with finite differences (student logits; the teacher's are a constant)", async () => {
    const r = new Rng(9);
    const v = Float64Array.from({ length: B * N }, () => 3 * r.normal());
    const check = await checkVjp(
      ([z]) => softTargetLoss(z!, z!.graph.constant(v, [B, N], "float64"), 4),
      [{ shape: [B, N] }],
    );
    expect(check.relErr).toBeLessThan(1e-6);
  });

  it("is zero with zero gradient when student and teacher agree", async () => {
    const [z] = randomLogits(2);
    const dz = await gradOf("soft", z, z, 20);
    for (const d of dz) expect(Math.abs(d)).toBeLessThan(1e-15);
  });

  it("approaches (z̄ − v̄)/N as T grows, for zero-meaned logits (the paper's logit-matching limit)", async () => {
    const [z0, v0] = randomLogits(3);
    const center = (x: Float64Array) => {
      const out = new Float64Array(x.length);
      for (let b = 0; b < B; b++) {
        let m = 0;
        for (let i = 0; i < N; i++) m += x[b * N + i]! / N;
        for (let i = 0; i < N; i++) out[b * N + i] = x[b * N + i]! - m;
      }
      return out;
    };
    const z = center(z0);
    const v = center(v0);
    const limit = z.map((zi, k) => (zi - v[k]!) / N / B);
    const errAt = async (T: number) => {
      const dz = await gradOf("soft", z, v, T);
      return Math.max(...dz.map((d, k) => Math.abs(d - limit[k]!))) / Math.max(...limit.map(Math.abs));
    };
    const errs = [await errAt(5), await errAt(50), await errAt(500)];
    expect(errs[1]).toBeLessThan(errs[0]!);
    expect(errs[2]).toBeLessThan(errs[1]!);
    expect(errs[2]).toBeLessThan(0.005);
    // Logit matching has exactly that gradient.
    const dm = await gradOf("match", z0, v0, 1);
    const limit0 = center(z0).map((zi, k) => (zi - center(v0)[k]!) / N / B);
    dm.forEach((d, k) => expect(d).toBeCloseTo(limit0[k]!, 12));
  });
});
