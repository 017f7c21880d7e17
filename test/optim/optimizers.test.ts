import { describe, expect, it } from "vitest";
import { Graph, type Tensor } from "../../src/ir/tensor.js";
import type { ParamSpec } from "../../src/nn/layers.js";
import {
  DEFAULT_OPTIMIZER,
  maxNorm,
  type OptimizerConfig,
  stateSlots,
  update,
} from "../../src/optim/optimizers.js";
import { Compiled } from "../../src/runtime/session.js";

const spec: ParamSpec = { name: "w", shape: [2, 3], init: "zeros", fan: [2, 3], unitAxes: [0], decay: true };
const p0 = Float64Array.of(0.5, -1, 2, 0.25, 3, -0.5);
const grads = [
  Float64Array.of(0.1, 0.2, -0.3, 0.4, -0.5, 0.6),
  Float64Array.of(-0.2, 0.1, 0.3, 0.0, 0.2, -0.1),
];

/** Runs two updates of `cfg` in a graph (float64) and returns the parameters after each. */
async function twoSteps(
  cfg: OptimizerConfig,
  lr: number,
  mom: number,
  lrScaled: boolean,
): Promise<Float64Array[]> {
  const g = new Graph();
  const p = g.input("p", spec.shape, "float64");
  const gr = g.input("g", spec.shape, "float64");
  const slots = stateSlots(cfg);
  const state = slots.map((s) => g.input(s, spec.shape, "float64"));
  const h = {
    lr: g.input("lr", [], "float64"),
    momentum: g.input("mom", [], "float64"),
    c1: g.input("c1", [], "float64"),
    c2: g.input("c2", [], "float64"),
  };
  const u = update(cfg, spec, p, gr, state, h);
  const outputs: Record<string, Tensor> = { p: u.p };
  slots.forEach((s, i) => {
    outputs[`new_${s}`] = u.state[i]!;
  });
  const c = await Compiled.compile({
    inputs: [p, gr, ...state, h.lr, h.momentum, h.c1, h.c2],
    outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [`o_${k}`, v])),
  });
  const f64 = (v: number) => ({ data: Float64Array.of(v), dims: [] });
  let cur: Float64Array<ArrayBufferLike> = p0;
  let st: Float64Array<ArrayBufferLike>[] = slots.map(() => new Float64Array(6));
  const out: Float64Array[] = [];
  for (let t = 1; t <= 2; t++) {
    const gt = grads[t - 1]!.map((x) => (lrScaled ? x * lr : x));
    const feeds: Record<string, { data: Float64Array; dims: readonly number[] }> = {
      p: { data: cur, dims: spec.shape },
      g: { data: gt, dims: spec.shape },
    };
    slots.forEach((s, i) => {
      feeds[s] = { data: st[i]!, dims: spec.shape };
    });
    Object.assign(feeds, {
      lr: f64(lr),
      mom: f64(mom),
      c1: f64(1 / (1 - cfg.beta1 ** t)),
      c2: f64(1 / (1 - cfg.beta2 ** t)),
    });
    const r = await c.run(feeds);
    cur = r.o_p!.data as Float64Array;
    st = slots.map((s) => r[`o_new_${s}`]!.data as Float64Array);
    out.push(cur);
  }
  await c.release();
  return out;
}

/** PyTorch's documented update rules, written out in plain JS. */
function reference(cfg: OptimizerConfig, lr: number, mom: number): Float64Array[] {
  let p = Array.from(p0);
  let v = new Array(6).fill(0);
  let m = new Array(6).fill(0);
  let s = new Array(6).fill(0);
  const out: Float64Array[] = [];
  for (let t = 1; t <= 2; t++) {
    let g = Array.from(grads[t - 1]!);
    const wd = cfg.weightDecay;
    if (cfg.name === "sgd" || cfg.name === "nesterov") {
      g = g.map((x, i) => x + wd * p[i]!);
      v = v.map((vi, i) => mom * vi + g[i]!);
      const step = cfg.name === "nesterov" ? g.map((x, i) => x + mom * v[i]!) : v;
      p = p.map((x, i) => x - lr * step[i]!);
    } else {
      if (cfg.name === "adam") g = g.map((x, i) => x + wd * p[i]!);
      else p = p.map((x) => x * (1 - lr * wd));
      m = m.map((mi, i) => cfg.beta1 * mi + (1 - cfg.beta1) * g[i]!);
      s = s.map((si, i) => cfg.beta2 * si + (1 - cfg.beta2) * g[i]! ** 2);
      const mh = m.map((x) => x / (1 - cfg.beta1 ** t));
      const sh = s.map((x) => x / (1 - cfg.beta2 ** t));
      p = p.map((x, i) => x - (lr * mh[i]!) / (Math.sqrt(sh[i]!) + cfg.eps));
    }
    out.push(Float64Array.from(p));
  }
  return out;
}

describe("optimizer updates match PyTorch's rules (constant lr)", () => {
  for (const name of ["sgd", "nesterov", "adam", "adamw"] as const) {
    for (const weightDecay of [0, 0.1]) {
      it(`${name}, weight decay ${weightDecay}`, async () => {
        const cfg = { ...DEFAULT_OPTIMIZER, name, weightDecay };
        const lrScaled = name === "sgd" || name === "nesterov";
        const got = await twoSteps(cfg, 0.1, 0.9, lrScaled);
        const want = reference(cfg, 0.1, 0.9);
        got.forEach((step, t) => step.forEach((v, i) => expect(v).toBeCloseTo(want[t]![i]!, 12)));
      });
    }
  }
});

describe("max-norm", () => {
  it("rescales each unit's incoming weights to norm c when longer, and leaves shorter ones alone", async () => {
    const g = new Graph();
    const w = g.input("w", [2, 3], "float64");
    const c = await Compiled.compile({ inputs: [w], outputs: { out: maxNorm(w, [0], 1) } });
    // Columns: (3, 4) has norm 5 → (0.6, 0.8); (0.3, 0.4) has norm 0.5 → unchanged; (0, -2) → (0, -1).
    const r = await c.run({ w: { data: Float64Array.of(3, 0.3, 0, 4, 0.4, -2), dims: [2, 3] } });
    const out = Array.from(r.out!.data as Float64Array);
    [0.6, 0.3, 0, 0.8, 0.4, -1].forEach((v, i) => expect(out[i]).toBeCloseTo(v, 12));
    await c.release();
  });
});
