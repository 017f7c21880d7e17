import { afterAll, describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import { type Graph as G, Graph, type Tensor } from "../../src/ir/tensor.js";
import { distLoss } from "../../src/losses/dist.js";
import { dkdLoss } from "../../src/losses/dkd.js";
import { softTargetLoss } from "../../src/losses/losses.js";
import { lskdLoss } from "../../src/losses/lskd.js";
import type { LossTerms } from "../../src/losses/terms.js";
import { Compiled } from "../../src/runtime/session.js";
import { KdError } from "../../src/util/errors.js";
import { Rng } from "../../src/util/rng.js";
import { checkVjp } from "../helpers/gradcheck.js";

const B = 4;
const N = 10;
type Rows = number[][];

// ---- Plain-JS references, written from the papers' definitions on probabilities. ----

function softmax(row: readonly number[], T: number): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp((x - m) / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}
const klOf = (p: readonly number[], q: readonly number[]) =>
  p.reduce((acc, pi, i) => acc + (pi > 0 ? pi * Math.log(pi / q[i]!) : 0), 0);
const meanOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function dkdRef(z: Rows, v: Rows, labels: number[], T: number) {
  const tckd: number[] = [];
  const nckd: number[] = [];
  z.forEach((zr, r) => {
    const c = labels[r]!;
    const q = softmax(zr, T);
    const p = softmax(v[r]!, T);
    tckd.push(klOf([p[c]!, 1 - p[c]!], [q[c]!, 1 - q[c]!]));
    const pHat = p.filter((_, j) => j !== c).map((x) => x / (1 - p[c]!));
    const qHat = q.filter((_, j) => j !== c).map((x) => x / (1 - q[c]!));
    nckd.push(klOf(pHat, qHat));
  });
  return { tckd: meanOf(tckd), nckd: meanOf(nckd) };
}

function zScore(row: readonly number[]): number[] {
  const m = meanOf(row);
  const sd = Math.sqrt(row.reduce((a, x) => a + (x - m) ** 2, 0) / (row.length - 1));
  return row.map((x) => (x - m) / sd);
}
const lskdRef = (z: Rows, v: Rows, T: number) =>
  meanOf(z.map((zr, r) => klOf(softmax(zScore(v[r]!), T), softmax(zScore(zr), T))));

function pearson(a: readonly number[], b: readonly number[], eps = 1e-8): number {
  const ma = meanOf(a);
  const mb = meanOf(b);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  a.forEach((ai, i) => {
    ab += (ai - ma) * (b[i]! - mb);
    aa += (ai - ma) ** 2;
    bb += (b[i]! - mb) ** 2;
  });
  return ab / (Math.sqrt(aa) * Math.sqrt(bb) + eps);
}
const column = (m: Rows, c: number) => m.map((row) => row[c]!);
function distRef(z: Rows, v: Rows, T: number) {
  const q = z.map((r) => softmax(r, T));
  const p = v.map((r) => softmax(r, T));
  const inter = meanOf(q.map((qr, r) => 1 - pearson(qr, p[r]!)));
  const intra = meanOf(q[0]!.map((_, c) => 1 - pearson(column(q, c), column(p, c))));
  return { inter, intra };
}

// ---- Running the graph builders. ----

type Build = (z: Tensor, v: Tensor, y: Tensor) => LossTerms;
interface Result {
  readonly total: number;
  readonly terms: Record<string, number>;
  /** d total / d student logits, row-major. */
  readonly dz: Float64Array;
}

const compiled: Compiled[] = [];
afterAll(async () => {
  for (const c of compiled) await c.release();
});

/** Compiles `build` once over a symbolic batch of `n` classes; returns a runner (float64 by default). */
async function compile(
  build: Build,
  n = N,
  dtype: "float32" | "float64" = "float64",
): Promise<(z: Rows, v: Rows, labels?: number[]) => Promise<Result>> {
  const g = new Graph();
  const z = g.input("z", ["batch", n], dtype);
  const v = g.input("v", ["batch", n], dtype);
  const y = g.input("y", ["batch", n], dtype);
  const { total, terms } = build(z, v, y);
  const [dz] = grad(total, [z]);
  const outputs: Record<string, Tensor> = { total, dz: dz! };
  for (const [k, t] of Object.entries(terms)) outputs[`term_${k}`] = t;
  const c = await Compiled.compile({ inputs: [z, v, y], outputs });
  compiled.push(c);
  return async (zr, vr, labels = zr.map(() => 0)) => {
    const dims = [zr.length, n];
    const Arr = dtype === "float64" ? Float64Array : Float32Array;
    const flat = (m: Rows) => ({ data: Arr.from(m.flat()), dims });
    const oneHot = labels.map((l) => Array.from({ length: n }, (_, j) => (j === l ? 1 : 0)));
    const r = await c.run({ z: flat(zr), v: flat(vr), y: flat(oneHot) });
    const terms: Record<string, number> = {};
    for (const k of Object.keys(r)) if (k.startsWith("term_")) terms[k.slice(5)] = r[k]!.data[0] as number;
    return { total: r.total!.data[0] as number, terms, dz: Float64Array.from(r.dz!.data as Float32Array) };
  };
}

function randomRows(rng: Rng, rows: number, n: number, scale: number): Rows {
  return Array.from({ length: rows }, () => Array.from({ length: n }, () => scale * rng.normal()));
}
const randomLabels = (rng: Rng, rows: number, n: number) => Array.from({ length: rows }, () => rng.int(n));

const dkd =
  (T: number, alpha = 1, beta = 8): Build =>
  (z, v, y) =>
    dkdLoss(z, v, y, { temperature: T, alpha, beta });
const lskd =
  (T: number): Build =>
  (z, v) =>
    lskdLoss(z, v, { temperature: T });
const dist =
  (T: number, beta = 1, gamma = 1): Build =>
  (z, v) =>
    distLoss(z, v, { temperature: T, beta, gamma });

/** A constant [B, N] tensor in `g`. */
const constRows = (g: G, m: Rows) =>
  g.constant(Float64Array.from(m.flat()), [m.length, m[0]!.length], "float64");

// ---- Tests. ----

describe("gradients agree with finite differences (student logits; teacher and targets constant)", () => {
  const rng = new Rng(11);
  const v = randomRows(rng, B, N, 3);
  const labels = randomLabels(rng, B, N);
  const oneHot = labels.map((l) => Array.from({ length: N }, (_, j) => (j === l ? 1 : 0)));
  const cases: [string, (T: number) => Build][] = [
    ["dkd", (T) => dkd(T)],
    ["lskd", lskd],
    ["dist", (T) => dist(T, 2, 3)],
  ];
  for (const [name, make] of cases)
    for (const T of [1, 4, 20])
      it(`${name} at T = ${T}`, async () => {
        const check = await checkVjp(
          ([z]) => {
            const g = z!.graph;
            return make(T)(z!, constRows(g, v), constRows(g, oneHot)).total;
          },
          [{ shape: [B, N] }],
        );
        expect(check.relErr).toBeLessThan(1e-6);
      });
});

describe("DKD", () => {
  it("decomposes KL: KL(p ‖ q) = TCKD + (1 − p_t) · NCKD on each row, to 1e-10", async () => {
    const rng = new Rng(3);
    for (const T of [1, 4, 20]) {
      const run = await compile((z, v, y) => {
        const { terms } = dkdLoss(z, v, y, { temperature: T, alpha: 1, beta: 1 });
        return { total: terms.tckd!, terms: { ...terms, kl: softTargetLoss(z, v, T) } };
      });
      const z = randomRows(rng, 5, N, 4);
      const v = randomRows(rng, 5, N, 4);
      const labels = randomLabels(rng, 5, N);
      for (let r = 0; r < z.length; r++) {
        const { terms } = await run([z[r]!], [v[r]!], [labels[r]!]);
        const pt = softmax(v[r]!, T)[labels[r]!]!;
        const kl = terms.kl! / (T * T);
        expect(Math.abs(kl - (terms.tckd! + (1 - pt) * terms.nckd!))).toBeLessThan(1e-10);
      }
    }
  });

  it("has T² · (α · TCKD + β · NCKD) as its total, and terms that match the definitions", async () => {
    const rng = new Rng(4);
    const z = randomRows(rng, B, N, 2);
    const v = randomRows(rng, B, N, 2);
    const labels = randomLabels(rng, B, N);
    const T = 4;
    const r = await (await compile(dkd(T, 1.5, 8)))(z, v, labels);
    const ref = dkdRef(z, v, labels, T);
    expect(r.terms.tckd).toBeCloseTo(ref.tckd, 12);
    expect(r.terms.nckd).toBeCloseTo(ref.nckd, 12);
    expect(r.total).toBeCloseTo(T * T * (1.5 * ref.tckd + 8 * ref.nckd), 10);
  });

  it("gives finite values and gradients at extreme logits (±1e4), T = 1 and 20, float64 and float32", async () => {
    const big = 1e4;
    // Confidently wrong, confidently right, all tied, mixed signs; targets at the ends and middle.
    const z = [
      [-big, big, 0, -big, big],
      [big, -big, -big, -big, -big],
      [big, big, big, big, big],
      [-big, -big, -big, -big, -big],
    ];
    const v = [
      [big, -big, -big, -big, -big],
      [big, -big, -big, -big, -big],
      [-big, big, -big, big, -big],
      [big, -big, 0, big, -big],
    ];
    const labels = [0, 0, 2, 4];
    for (const dtype of ["float64", "float32"] as const)
      for (const T of [1, 20]) {
        const r = await (await compile(dkd(T), 5, dtype))(z, v, labels);
        for (const x of [r.total, ...Object.values(r.terms), ...r.dz]) expect(Number.isFinite(x)).toBe(true);
        expect(r.total).toBeGreaterThan(0);
      }
  });
});

describe("LSKD", () => {
  it("is unchanged (to rounding) when either network's logits are shifted or scaled by a positive factor", async () => {
    const rng = new Rng(5);
    const z = randomRows(rng, B, N, 3);
    const v = randomRows(rng, B, N, 3);
    const run = await compile(lskd(2));
    const base = await run(z, v);
    const affine = (m: Rows, a: number, k: number) => m.map((row, r) => row.map((x) => a * x + k * (r + 1)));
    for (const [zz, vv] of [
      [affine(z, 1, 7.5), v],
      [affine(z, 0.01, 0), v],
      [affine(z, 250, -40), v],
      [z, affine(v, 1, -3)],
      [z, affine(v, 1e-3, 2)],
      [affine(z, 3, 1), affine(v, 0.2, -9)],
    ] as [Rows, Rows][]) {
      const r = await run(zz, vv);
      expect(Math.abs(r.total - base.total)).toBeLessThan(1e-12 * base.total);
    }
  });

  it("is the T²-scaled KL between z-scored rows (unbiased std)", async () => {
    const rng = new Rng(6);
    const z = randomRows(rng, B, N, 3);
    const v = randomRows(rng, B, N, 3);
    const r = await (await compile(lskd(3)))(z, v);
    expect(r.terms.kl).toBeCloseTo(lskdRef(z, v, 3), 12);
    expect(r.total).toBeCloseTo(9 * lskdRef(z, v, 3), 11);
  });

  it("stays finite, values and gradients, when a row is constant", async () => {
    const z = [
      [0, 0, 0],
      [0.1, 0.1, 0.1],
      [1, 2, 3],
    ];
    const v = [
      [1, 2, 3],
      [5, 5, 5],
      [-4, -4, -4],
    ];
    const r = await (await compile(lskd(2), 3))(z, v);
    for (const x of [r.total, r.terms.kl!, ...r.dz]) expect(Number.isFinite(x)).toBe(true);
  });
});

describe("DIST", () => {
  it("is zero up to its ε when the student's logits are the teacher's plus a per-row shift (q = p)", async () => {
    const rng = new Rng(7);
    const v = randomRows(rng, B, N, 3);
    const z = v.map((row, r) => row.map((x) => x + 5 * r - 3));
    for (const T of [1, 4]) {
      const r = await (await compile(dist(T)))(z, v);
      // With q = p, 1 − ρ = ε / (‖p̄‖² + ε) exactly: the reference's ε in the denominator.
      const p = v.map((row) => softmax(row, T));
      const residual = (a: number[]) => {
        const m = meanOf(a);
        return 1e-8 / (a.reduce((s, x) => s + (x - m) ** 2, 0) + 1e-8);
      };
      const inter = meanOf(p.map(residual));
      const intra = meanOf(p[0]!.map((_, c) => residual(column(p, c))));
      expect(Math.abs(r.terms.inter! - inter)).toBeLessThan(1e-13);
      expect(Math.abs(r.terms.intra! - intra)).toBeLessThan(1e-13);
      expect(r.total).toBeLessThan(1e-4);
    }
  });

  it("is not zero when the student's logits are a scaled copy of the teacher's (softmax is not affine-equivariant)", async () => {
    const rng = new Rng(8);
    const v = randomRows(rng, B, N, 3);
    const r = await (await compile(dist(1)))(
      v.map((row) => row.map((x) => 2 * x)),
      v,
    );
    expect(r.total).toBeGreaterThan(1e-3);
  });

  it("is T² · (β · inter + γ · intra) with Pearson correlations over rows and over the batch", async () => {
    const rng = new Rng(9);
    const z = randomRows(rng, B, N, 2);
    const v = randomRows(rng, B, N, 2);
    const r = await (await compile(dist(4, 2, 0.5)))(z, v);
    const ref = distRef(z, v, 4);
    expect(r.terms.inter).toBeCloseTo(ref.inter, 12);
    expect(r.terms.intra).toBeCloseTo(ref.intra, 12);
    expect(r.total).toBeCloseTo(16 * (2 * ref.inter + 0.5 * ref.intra), 11);
  });

  it("stays finite with a batch of one (every column constant) and with a constant row", async () => {
    const run = await compile(dist(4), 3);
    for (const [z, v] of [
      [[[1, 2, 3]], [[3, 1, 2]]],
      [
        [
          [0, 0, 0],
          [1, 2, 3],
        ],
        [
          [1, 0, 0],
          [2, 2, 2],
        ],
      ],
    ] as [Rows, Rows][]) {
      const r = await run(z, v);
      for (const x of [r.total, ...Object.values(r.terms), ...r.dz]) expect(Number.isFinite(x)).toBe(true);
    }
  });
});

describe("a tiny example worked by hand (2 rows × 3 classes, T = 2)", () => {
  const z = [
    [1, 2, 0.5],
    [-1, 0, 3],
  ];
  const v = [
    [2, 1, 0],
    [0, 0.5, 2],
  ];
  const labels = [1, 2];
  const T = 2;

  it("DKD", async () => {
    const r = await (await compile(dkd(T, 1, 8), 3))(z, v, labels);
    const ref = dkdRef(z, v, labels, T);
    expect(r.terms.tckd).toBeCloseTo(ref.tckd, 13);
    expect(r.terms.nckd).toBeCloseTo(ref.nckd, 13);
    expect(r.total).toBeCloseTo(4 * (ref.tckd + 8 * ref.nckd), 12);
  });

  it("LSKD", async () => {
    const r = await (await compile(lskd(T), 3))(z, v);
    // Row 1 of z, [−1, 0, 3]: mean 2/3, unbiased std √(13/3); and so on, in zScore.
    expect(zScore(z[1]!)[2]).toBeCloseTo((3 - 2 / 3) / Math.sqrt(13 / 3), 14);
    expect(r.total).toBeCloseTo(4 * lskdRef(z, v, T), 13);
  });

  it("DIST", async () => {
    const r = await (await compile(dist(T), 3))(z, v);
    const ref = distRef(z, v, T);
    expect(r.terms.inter).toBeCloseTo(ref.inter, 13);
    expect(r.terms.intra).toBeCloseTo(ref.intra, 13);
    expect(r.total).toBeCloseTo(4 * (ref.inter + ref.intra), 12);
  });
});

describe("argument validation", () => {
  it("rejects a non-positive temperature and negative weights, naming the objective", () => {
    const g = new Graph();
    const z = g.input("z", [2, 3], "float64");
    expect(() => dkdLoss(z, z, z, { temperature: 0, alpha: 1, beta: 8 })).toThrow(KdError);
    expect(() => dkdLoss(z, z, z, { temperature: 0, alpha: 1, beta: 8 })).toThrow(
      "dkd: temperature must be positive, got 0",
    );
    expect(() => lskdLoss(z, z, { temperature: -1 })).toThrow("lskd: temperature must be positive, got -1");
    expect(() => distLoss(z, z, { temperature: 1, beta: -1, gamma: 1 })).toThrow(
      "dist: beta and gamma must be non-negative, got -1, 1",
    );
  });
});
