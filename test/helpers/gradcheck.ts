/** JAX-style gradient check: <t, vjp(c)> against <central-difference jvp(t), c> on random t, c. */
import { grad } from "../../src/autodiff/grad.js";
import * as o from "../../src/ir/ops.js";
import { type DType, Graph, type Tensor } from "../../src/ir/tensor.js";
import { Compiled } from "../../src/runtime/session.js";
import { Rng } from "../../src/util/rng.js";

export interface InputSpec {
  readonly shape: readonly number[];
  /** Draws one value (default: standard normal). */
  readonly sample?: (rng: Rng) => number;
}

export interface CheckResult {
  readonly analytic: number;
  readonly numeric: number;
  readonly relErr: number;
  /** Prims that appear in the traced function. */
  readonly prims: Set<string>;
}

type F = Float32Array | Float64Array;
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export async function checkVjp(
  f: (xs: Tensor[]) => Tensor,
  specs: readonly InputSpec[],
  opts: { dtype?: DType; eps?: number; seed?: number } = {},
): Promise<CheckResult> {
  const dtype = opts.dtype ?? "float64";
  const eps = opts.eps ?? (dtype === "float64" ? 1e-6 : 1e-2);
  const rng = new Rng(opts.seed ?? 7);
  const Arr: { from(a: ArrayLike<number>, f?: (v: number, k: number) => number): F } =
    dtype === "float64" ? Float64Array : Float32Array;

  const g = new Graph();
  const xs = specs.map((s, i) => g.input(`x${i}`, s.shape, dtype));
  const firstNew = g.tensors.length;
  const y = f(xs);
  const prims = new Set<string>();
  for (const t of g.tensors.slice(firstNew)) if (t.source.kind === "op") prims.add(t.source.node.prim);
  const c = g.input("c", y.shape, dtype);
  const loss = o.sum(o.mul(y, c));
  const gs = grad(loss, xs);
  const outputs: Record<string, Tensor> = { y };
  gs.forEach((gi, i) => {
    outputs[`g${i}`] = gi;
  });
  const compiled = await Compiled.compile({ inputs: [...xs, c], outputs });

  const x0 = specs.map((s) =>
    Arr.from({ length: size(s.shape) } as ArrayLike<number>, () => (s.sample ? s.sample(rng) : rng.normal())),
  );
  const t = specs.map((s) => Arr.from({ length: size(s.shape) } as ArrayLike<number>, () => rng.normal()));
  const cv = Arr.from({ length: size(y.shape as number[]) } as ArrayLike<number>, () => rng.normal());
  const feeds = (xv: F[]) => {
    const r: Record<string, { data: F; dims: readonly number[] }> = {
      c: { data: cv, dims: y.shape as number[] },
    };
    xv.forEach((v, i) => {
      r[`x${i}`] = { data: v, dims: specs[i]!.shape };
    });
    return r;
  };
  const res = await compiled.run(feeds(x0));
  let analytic = 0;
  gs.forEach((_, i) => {
    const gi = res[`g${i}`]!.data as F;
    for (let k = 0; k < gi.length; k++) analytic += gi[k]! * t[i]![k]!;
  });
  const shifted = (sign: number) => x0.map((v, i) => Arr.from(v, (a, k) => a + sign * eps * t[i]![k]!));
  const yp = (await compiled.run(feeds(shifted(1)), ["y"])).y!.data as F;
  const ym = (await compiled.run(feeds(shifted(-1)), ["y"])).y!.data as F;
  let numeric = 0;
  for (let k = 0; k < cv.length; k++) numeric += ((yp[k]! - ym[k]!) / (2 * eps)) * cv[k]!;
  await compiled.release();
  const relErr = Math.abs(analytic - numeric) / Math.max(1e-8, Math.abs(analytic) + Math.abs(numeric));
  return { analytic, numeric, relErr, prims };
}
