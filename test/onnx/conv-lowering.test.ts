import { describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import * as o from "../../src/ir/ops.js";
import { Graph, type Tensor } from "../../src/ir/tensor.js";
import { EXPORT_OPSET, OPSET } from "../../src/onnx/lower.js";
import { Compiled } from "../../src/runtime/session.js";
import { Rng } from "../../src/util/rng.js";

type Dims4 = [number, number, number, number];
const count = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
const randn = (rng: Rng, d: readonly number[]) => Float32Array.from({ length: count(d) }, () => rng.normal());

/** Grouped, strided, zero-padded NCHW convolution written plainly, as the reference. */
function convRef(
  x: Float32Array,
  [n, c, h, w]: Dims4,
  k: Float32Array,
  [co, cg, kh, kw]: Dims4,
  s: number,
  p: number,
) {
  const groups = c / cg;
  const [oh, ow] = [Math.floor((h + 2 * p - kh) / s) + 1, Math.floor((w + 2 * p - kw) / s) + 1];
  const y = new Float64Array(n * co * oh * ow);
  for (let b = 0; b < n; b++)
    for (let f = 0; f < co; f++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let acc = 0;
          const g = Math.floor(f / (co / groups));
          for (let q = 0; q < cg; q++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const [r, t] = [i * s + u - p, j * s + v - p];
                if (r < 0 || r >= h || t < 0 || t >= w) continue;
                acc += x[((b * c + g * cg + q) * h + r) * w + t]! * k[((f * cg + q) * kh + u) * kw + v]!;
              }
          y[((b * co + f) * oh + i) * ow + j] = acc;
        }
  return { y, dims: [n, co, oh, ow] as Dims4 };
}

async function run(inputs: Tensor[], outputs: Record<string, Tensor>, feeds: Float32Array[], opset = OPSET) {
  const c = await Compiled.compile({ inputs, outputs, opset });
  const r = await c.run(
    Object.fromEntries(inputs.map((t, i) => [t.name, { data: feeds[i]!, dims: t.shape as number[] }])),
  );
  await c.release();
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
}

function expectNear(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(tol);
}

describe("ONNX lowerings of the convolution primitives run in ONNX Runtime", () => {
  const rng = new Rng(11);
  const xd: Dims4 = [2, 4, 8, 7];
  const wd: Dims4 = [6, 2, 3, 3];
  const [x, w] = [randn(rng, xd), randn(rng, wd)];

  for (const opset of [OPSET, EXPORT_OPSET])
    it(`grouped strided conv2d (Conv group=2) matches the plain reference at opset ${opset}`, async () => {
      const g = new Graph();
      const [tx, tw] = [g.input("x", xd), g.input("w", wd)];
      const got = await run([tx, tw], { y: o.conv2d(tx, tw, [2, 2], [1, 1], 2) }, [x, w], opset);
      expectNear(got.y!, convRef(x, xd, w, wd, 2, 1).y);
    });

  it("grouped convTranspose2d with output padding is the adjoint of the grouped conv2d", async () => {
    const { dims: yd } = convRef(x, xd, w, wd, 2, 1);
    const u = randn(rng, yd);
    const g = new Graph();
    const [tu, tw] = [g.input("u", yd), g.input("w", wd)];
    const params = {
      strides: [2, 2],
      pads: [1, 1],
      dilations: [1, 1],
      outputPadding: [1, 0],
      groups: 2,
    } as const;
    const got = await run([tu, tw], { t: o.apply("convTranspose2d", params, [tu, tw]) }, [u, w]);
    expect(got.t!.length).toBe(x.length);
    // <convT(u), x> = <u, conv(x)>
    const cx = convRef(x, xd, w, wd, 2, 1).y;
    const lhs = got.t!.reduce((acc, v, i) => acc + v * x[i]!, 0);
    const rhs = u.reduce((acc, v, i) => acc + v * cx[i]!, 0);
    expect(Math.abs(lhs - rhs)).toBeLessThan(1e-3 * (Math.abs(rhs) + 1));
  });

  it("the grouped weight gradient with a symbolic batch equals the one with a fixed batch", async () => {
    const dw = async (batch: number | string) => {
      const g = new Graph();
      const [tx, tw] = [g.input("x", [batch, 4, 8, 7]), g.input("w", wd)];
      const [gw] = grad(o.sum(o.conv2d(tx, tw, [2, 2], [1, 1], 2)), [tw]);
      const c = await Compiled.compile({ inputs: [tx, tw], outputs: { gw: gw! } });
      const r = await c.run({ x: { data: x, dims: xd }, w: { data: w, dims: wd } });
      await c.release();
      return r.gw!.data as Float32Array;
    };
    const fixed = await dw(2);
    expectNear(await dw("batch"), fixed, 1e-5);
    // d(sum y)/dw[f, q, u, v] is the sum of the inputs that tap meets: check one tap by hand.
    const ref = convRef(
      x,
      xd,
      w.map((_, i) => (i === 0 ? 1 : 0)),
      wd,
      2,
      1,
    ).y;
    const outsPerFilter = ref.length / 2 / 6;
    let tap = 0;
    for (let b = 0; b < 2; b++)
      for (let k = 0; k < outsPerFilter; k++) tap += ref[b * 6 * outsPerFilter + k]!;
    expect(Math.abs(fixed[0]! - tap)).toBeLessThan(1e-4);
  });

  for (const opset of [OPSET, EXPORT_OPSET])
    it(`slice and pad (Slice, Pad with full-rank pads) at opset ${opset}`, async () => {
      const g = new Graph();
      const a = g.input("a", [2, 3, 4]);
      const data = Float32Array.from({ length: 24 }, (_, i) => i);
      const got = await run(
        [a],
        { s: o.slice(a, [2, -2], [1, 1], [3, 3]), p: o.pad(a, [-1], [1], [2]) },
        [data],
        opset,
      );
      // a[:, 1:3, 1:3]
      expect(Array.from(got.s!)).toEqual([5, 6, 9, 10, 17, 18, 21, 22]);
      const row = (r: number) => [0, ...data.slice(4 * r, 4 * r + 4), 0, 0];
      expect(Array.from(got.p!)).toEqual([0, 1, 2, 3, 4, 5].flatMap(row));
    });
});
