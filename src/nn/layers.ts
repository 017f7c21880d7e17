/** Building blocks of models: parameter specs with seeded initialisers, dense and dropout layers. */
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import type { Rng } from "../util/rng.js";

export type Init = "he" | "glorot" | "zeros" | "ones";

/** A trainable tensor: its name in graphs and files, its shape and how it starts. */
export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly init: Init;
  /** Fan-in and fan-out for the initialiser. */
  readonly fan: readonly [number, number];
  /**
   * Axes over which one hidden unit's incoming weights lie, for the max-norm constraint. Only
   * hidden layers' weights have them: as in the dropout paper, the output layer and biases are
   * never constrained.
   */
  readonly unitAxes?: readonly number[];
  /** Whether weight decay applies (weights yes, biases no). */
  readonly decay: boolean;
}

/** Initial values: He-normal (ReLU layers) or Glorot-uniform from a seeded generator, or constant (zeros, ones: no draw). */
export function initParam(spec: ParamSpec, rng: Rng): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const [fanIn, fanOut] = spec.fan;
  if (spec.init === "he") {
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  } else if (spec.init === "glorot") {
    const a = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < n; i++) out[i] = (2 * rng.uniform() - 1) * a;
  } else if (spec.init === "ones") out.fill(1);
  return out;
}

/** A dense layer's weight [in, out] and bias; `hidden` layers' weights take the max-norm constraint. */
export function denseParams(
  name: string,
  fanIn: number,
  fanOut: number,
  init: Init,
  hidden: boolean,
): ParamSpec[] {
  return [
    {
      name: `${name}.weight`,
      shape: [fanIn, fanOut],
      init,
      fan: [fanIn, fanOut],
      ...(hidden ? { unitAxes: [0] } : {}),
      decay: true,
    },
    { name: `${name}.bias`, shape: [fanOut], init: "zeros", fan: [fanIn, fanOut], decay: false },
  ];
}

/** x @ W + b with W stored [in, out]. */
export function dense(x: Tensor, p: ParamMap, name: string): Tensor {
  return o.add(o.matmul(x, p.get(`${name}.weight`)), p.get(`${name}.bias`));
}

/**
 * Inverted dropout: keeps each unit with probability 1 - rate and scales it by 1/(1 - rate), so
 * inference needs no change. `seed` is an int64 scalar; `salt` makes each layer's mask distinct.
 */
export function dropout(x: Tensor, rate: number, seed: Tensor, salt: number): Tensor {
  if (rate <= 0) return x;
  const layerSeed = o.add(seed, o.constant(seed.graph, salt * 0x632be5ab, [], "int64"));
  return o.mul(x, o.dropoutMask(layerSeed, x, rate));
}

/** Parameters by name, as graph tensors. */
export class ParamMap {
  constructor(private readonly byName: ReadonlyMap<string, Tensor>) {}
  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (t === undefined) throw new Error(`no parameter named ${name}`);
    return t;
  }
}
