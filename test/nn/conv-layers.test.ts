import { describe, expect, it } from "vitest";
import { grad } from "../../src/autodiff/grad.js";
import * as o from "../../src/ir/ops.js";
import { Graph, type Tensor } from "../../src/ir/tensor.js";
import * as L from "../../src/nn/conv-layers.js";
import { Compiled } from "../../src/runtime/session.js";
import { KdError } from "../../src/util/errors.js";
import { expectClose, type Fixed, loadTorchFixture } from "../helpers/torch-fixtures.js";

interface Fixture {
  readonly config: Record<string, number | boolean>;
  readonly tensors: Record<string, Fixed>;
}

const load = (name: string) => loadTorchFixture<Fixture>(name);

/**
 * Builds `layer` over the fixture's tensors (as float32 graph inputs), runs it forward and the
 * gradient of sum(y · c) with respect to `wrt`, and compares each with PyTorch's.
 */
async function compare(
  name: string,
  layer: (t: Record<string, Tensor>) => { y: Tensor; extra?: Record<string, Tensor> },
  wrt: readonly string[],
): Promise<Record<string, Float32Array>> {
  const f = load(name);
  const g = new Graph();
  const inputs: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(f.tensors))
    if (!k.includes(".") && k !== "c" && k !== "y") inputs[k] = g.input(k.replace("_", ""), v.shape);
  const { y, extra = {} } = layer(inputs);
  // c takes the layer's shape: globalAvgPool gives [N, C] where PyTorch gives [N, C, 1, 1].
  const c = g.input("c", y.shape);
  const gs = grad(
    o.sum(o.mul(y, c)),
    wrt.map((k) => inputs[k]!),
  );
  const outputs: Record<string, Tensor> = { y, ...extra };
  wrt.forEach((k, i) => {
    outputs[`grad.${k}`] = gs[i]!;
  });
  const compiled = await Compiled.compile({ inputs: [...Object.values(inputs), c], outputs });
  const feeds = Object.fromEntries(
    [...Object.entries(inputs), ["c", c] as const].map(([k, t]) => {
      const v = f.tensors[k]!;
      return [t.name, { data: Float32Array.from(v.data), dims: t.shape as number[] }];
    }),
  );
  const res = await compiled.run(feeds);
  await compiled.release();
  const got: Record<string, Float32Array> = {};
  for (const k of Object.keys(outputs)) got[k] = res[k]!.data as Float32Array;
  expectClose(got.y!, f.tensors.y!, `${name} forward`);
  for (const k of wrt) expectClose(got[`grad.${k}`]!, f.tensors[`grad.${k}`]!, `${name} grad.${k}`);
  return got;
}

describe("convnet layers agree with PyTorch (float32, 1e-5 abs + 1e-4 rel)", () => {
  const convCase = (name: string) => async () => {
    const { stride, padding, groups, bias } = load(name).config as Record<string, number>;
    const wrt = bias ? ["x", "weight", "bias"] : ["x", "weight"];
    await compare(
      name,
      (t) => ({
        y: L.conv2d(t.x!, t.weight!, {
          name,
          stride,
          padding,
          groups,
          ...(bias ? { bias: t.bias! } : {}),
        }),
      }),
      wrt,
    );
  };
  it("Conv2d 3x3 stride 2 pad 1, width not a multiple of the stride", convCase("conv2d_3x3_s2_p1"));
  it("Conv2d 1x1 stride 2 shortcut without bias", convCase("conv2d_1x1_s2_shortcut"));
  it("depthwise Conv2d (groups = channels), stride 2", convCase("conv2d_depthwise_s2"));
  it("grouped Conv2d (groups 2)", convCase("conv2d_groups2"));

  it("BatchNorm2d in training mode: output, gradients and running statistics after one step", async () => {
    const f = load("batchnorm2d_train");
    const got = await compare(
      "batchnorm2d_train",
      (t) => {
        const bn = L.batchNorm2dTrain(t.x!, { name: "bn", weight: t.weight!, bias: t.bias!, eps: 1e-5 });
        const extra = {
          mean: L.runningUpdate(t.running_mean!, bn.mean, 0.1),
          variance: L.runningUpdate(t.running_var!, bn.variance, 0.1),
        };
        return { y: bn.y, extra };
      },
      ["x", "weight", "bias"],
    );
    expectClose(got.mean!, f.tensors["running_mean.after"]!, "running mean");
    expectClose(got.variance!, f.tensors["running_var.after"]!, "running variance");
  });

  it("BatchNorm2d in evaluation mode", async () => {
    await compare(
      "batchnorm2d_eval",
      (t) => ({
        y: L.batchNorm2dEval(t.x!, {
          name: "bn",
          weight: t.weight!,
          bias: t.bias!,
          runningMean: t.running_mean!,
          runningVar: t.running_var!,
        }),
      }),
      ["x", "weight", "bias"],
    );
  });

  for (const name of ["avgpool2d_3x3_s2_p1", "avgpool2d_2x2"])
    it(`AvgPool2d (${name})`, async () => {
      const { kernel, stride, padding } = load(name).config as {
        [k in "kernel" | "stride" | "padding"]: number;
      };
      await compare(name, (t) => ({ y: L.avgPool2d(t.x!, { name, kernel, stride, padding }) }), ["x"]);
    });

  it("AdaptiveAvgPool2d(1) as globalAvgPool ([N, C] rather than [N, C, 1, 1])", async () => {
    await compare("adaptiveavgpool2d_1", (t) => ({ y: L.globalAvgPool(t.x!, "gap") }), ["x"]);
  });
  it("ReLU6", async () => {
    await compare("relu6", (t) => ({ y: L.relu6(t.x!) }), ["x"]);
  });
  it("Hardswish", async () => {
    await compare("hardswish", (t) => ({ y: L.hardSwish(t.x!) }), ["x"]);
  });
});

describe("convnet layers refuse impossible shapes with one line naming the layer", () => {
  const g = new Graph();
  const x = g.input("x", ["batch", 4, 5, 5]);
  const refuses = (f: () => unknown, msg: RegExp) => {
    expect(f).toThrow(KdError);
    expect(f).toThrow(msg);
  };

  it("conv2d: kernel larger than the padded input, bad stride, channels not divisible by groups", () => {
    const w7 = g.input("w7", [2, 4, 7, 7]);
    refuses(
      () => L.conv2d(x, w7, { name: "c1" }),
      /conv2d "c1": kernel 7x7 is larger than the padded input 5x5/,
    );
    expect(L.conv2d(x, w7, { name: "c1", padding: 1 }).shape).toEqual(["batch", 2, 1, 1]);
    const w3 = g.input("w3", [6, 4, 3, 3]);
    refuses(() => L.conv2d(x, w3, { name: "c2", stride: 0 }), /conv2d "c2": stride must be an integer >= 1/);
    refuses(() => L.conv2d(x, w3, { name: "c2", padding: -1 }), /conv2d "c2": padding must be/);
    const wg = g.input("wg", [6, 1, 3, 3]);
    refuses(
      () => L.conv2d(x, wg, { name: "c3", groups: 3 }),
      /"c3": 4 input channels are not divisible into 3/,
    );
    const wo = g.input("wo", [5, 2, 3, 3]);
    refuses(() => L.conv2d(x, wo, { name: "c4", groups: 2 }), /"c4": 5 output channels are not divisible/);
    refuses(
      () => L.conv2d(x, w3, { name: "c5", groups: 2 }),
      /"c5": weight takes 4 x 2 groups input channels/,
    );
    const b = g.input("b", [4]);
    refuses(() => L.conv2d(x, w3, { name: "c6", bias: b }), /"c6": bias must be \[6\] or \[6, 1, 1\]/);
    const v = g.input("v", [2, 4]);
    refuses(() => L.conv2d(v, w3, { name: "c7" }), /conv2d "c7": input must be 4-D/);
  });

  it("avgPool2d: window larger than the padded input, padding over half the kernel", () => {
    refuses(() => L.avgPool2d(x, { name: "p1", kernel: 6 }), /avgPool2d "p1": kernel 6x6 is larger/);
    refuses(
      () => L.avgPool2d(x, { name: "p2", kernel: 2, padding: 2 }),
      /"p2": padding 2x2 is more than half/,
    );
    refuses(() => L.avgPool2d(x, { name: "p3", kernel: 2, stride: 0 }), /"p3": stride must be/);
  });

  it("batchNorm2d in training mode refuses a fixed batch of one; a symbolic batch is checked by its feeder", () => {
    const h = new Graph();
    const one = h.input("one", [1, 3, 4, 4]);
    const [gamma, beta] = [h.input("g", [3]), h.input("b", [3])];
    refuses(
      () => L.batchNorm2dTrain(one, { name: "bn1", weight: gamma, bias: beta }),
      /batchNorm2d "bn1": a training batch of one example has no batch statistics/,
    );
    const sym = h.input("sym", ["batch", 3, 4, 4]);
    expect(L.batchNorm2dTrain(sym, { name: "bn1", weight: gamma, bias: beta }).y.shape).toEqual(sym.shape);
    refuses(() => L.ensureTrainingBatch("bn1", 1), /batchNorm2d "bn1": a training batch of one/);
    expect(() => L.ensureTrainingBatch("bn1", 2)).not.toThrow();
    // Evaluation mode uses running statistics: a batch of one is fine there.
    expect(
      L.batchNorm2dEval(one, { name: "bn1", weight: gamma, bias: beta, runningMean: gamma, runningVar: beta })
        .shape,
    ).toEqual([1, 3, 4, 4]);
    const g4 = h.input("g4", [4]);
    refuses(
      () => L.batchNorm2dTrain(sym, { name: "bn2", weight: g4, bias: beta }),
      /batchNorm2d "bn2": weight must be \[3\], got \[4\]/,
    );
    refuses(() => L.runningUpdate(gamma, beta, 1.5), /momentum must lie in \[0, 1\], got 1.5/);
  });

  it("residualAdd refuses branches of different shapes instead of broadcasting", () => {
    const y = g.input("y", ["batch", 4, 3, 3]);
    refuses(
      () => L.residualAdd(y, x, "block1"),
      /residual "block1": branch \[batch, 4, 3, 3\] and shortcut \[batch, 4, 5, 5\] differ in shape/,
    );
    const z = g.input("z", ["batch", 1, 5, 5]);
    refuses(() => L.residualAdd(z, x, "block2"), /residual "block2"/);
    expect(L.residualAdd(x, x, "block3").shape).toEqual(x.shape);
  });
});
