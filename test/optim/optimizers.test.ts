import { describe, expect, it } from "vitest";
import { Graph, type Tensor } from "../../src/ir/tensor.js";
import { initParam, type ParamSpec } from "../../src/nn/layers.js";
import { cnn, mlp } from "../../src/nn/model.js";
import {
  DEFAULT_OPTIMIZER,
  maxNorm,
  type OptimizerConfig,
  stateSlots,
  update,
} from "../../src/optim/optimizers.js";
import { Compiled } from "../../src/runtime/session.js";
import { TrainStep } from "../../src/train/step.js";
import { Rng } from "../../src/util/rng.js";

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

/** Column norms of a [in, out] weight: one per unit (its incoming weights). */
function columnNorms(w: Float32Array, fanIn: number, fanOut: number): number[] {
  return Array.from({ length: fanOut }, (_, j) => {
    let s = 0;
    for (let i = 0; i < fanIn; i++) s += w[i * fanOut + j]! ** 2;
    return Math.sqrt(s);
  });
}

describe("max-norm reaches hidden layers only (as the dropout paper words it)", () => {
  it("gives unit axes to hidden weights, never to the output layer or biases", () => {
    const constrained = (specs: readonly ParamSpec[]) => specs.filter((p) => p.unitAxes).map((p) => p.name);
    expect(constrained(mlp(784, [30, 20], 10).params)).toEqual(["fc1.weight", "fc2.weight"]);
    expect(constrained(mlp(784, [], 10).params)).toEqual([]);
    expect(constrained(cnn(28, [4, 8], 10).params)).toEqual(["conv1.weight", "conv2.weight"]);
  });

  it("renorms hidden weights after a step and leaves longer output weights alone", async () => {
    const model = mlp(6, [5], 4);
    const radius = 0.5;
    const step = await TrainStep.compile({
      model,
      optimizer: { ...DEFAULT_OPTIMIZER, maxNorm: radius },
      objective: { kind: "ce" },
      labeled: true,
    });
    const rng = new Rng(4);
    // Every column starts at norm 3 (> radius) in both layers.
    const params = new Map(
      model.params.map((p) => {
        const w = initParam({ ...p, init: "glorot" }, rng);
        const [fanIn, fanOut] = p.shape.length === 2 ? [p.shape[0]!, p.shape[1]!] : [1, p.shape[0]!];
        columnNorms(w, fanIn, fanOut).forEach((n, j) => {
          for (let i = 0; i < fanIn; i++) w[i * fanOut + j]! *= 3 / n;
        });
        return [p.name, w];
      }),
    );
    const state = { params, opt: step.initialOptState() };
    const x = Float32Array.from({ length: 3 * 6 }, () => rng.uniform());
    const targets = Float32Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0);
    await step.run(state, [{ x, size: 3, targets }], [{ lr: 0.01, momentum: 0, c1: 1, c2: 1, seed: 0 }]);
    for (const n of columnNorms(state.params.get("fc1.weight")!, 6, 5)) expect(n).toBeCloseTo(radius, 5);
    const out = columnNorms(state.params.get("out.weight")!, 5, 4);
    for (const n of out) expect(n).toBeGreaterThan(2.5);
    await step.release();
  });

  it("sums squares along leading or trailing unit axes alike (dense [in, out], conv [out, in, kh, kw])", async () => {
    const g = new Graph();
    const dense = g.input("d", [3, 2]);
    const conv = g.input("c", [2, 1, 2, 2]);
    const c = await Compiled.compile({
      inputs: [dense, conv],
      outputs: { d2: maxNorm(dense, [0], 1), c2: maxNorm(conv, [1, 2, 3], 1) },
    });
    const r = await c.run({
      // Columns (2, 1, 2) (norm 3) and (0, 0.6, 0) (norm 0.6).
      d: { data: Float32Array.of(2, 0, 1, 0.6, 2, 0), dims: [3, 2] },
      // Units (1, 2, 2, 4) (norm 5) and (0.1, 0.2, 0.2, 0.4) (norm 0.5).
      c: { data: Float32Array.of(1, 2, 2, 4, 0.1, 0.2, 0.2, 0.4), dims: [2, 1, 2, 2] },
    });
    const want = {
      d2: [2 / 3, 0, 1 / 3, 0.6, 2 / 3, 0],
      c2: [0.2, 0.4, 0.4, 0.8, 0.1, 0.2, 0.2, 0.4],
    };
    for (const k of ["d2", "c2"] as const)
      Array.from(r[k]!.data as Float32Array).forEach((v, i) => expect(v).toBeCloseTo(want[k][i]!, 6));
    await c.release();
  });
});
