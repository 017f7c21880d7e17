/**
 * FitNets hints (Romero et al. 2015): the mean squared error between a teacher tensor and a learned
 * regressor of a student layer — a 1×1 convolution for [C, H, W] features, a linear layer for [D] —
 * from the student's width to the teacher's, trained with the student and dropped at export.
 */
import * as z from "zod/mini";
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import type { ParamSpec } from "../nn/layers.js";
import { KdError } from "../util/errors.js";
import { type ObjectiveDef, type ObjectiveInputs, shapeText, tensorName } from "./types.js";

interface Pair {
  readonly teacherTensor: string;
  readonly studentLayer: string;
}

/** The prefix of the regressor's parameters for this pair (`<prefix>.weight`, `<prefix>.bias`). */
export const regressorName = (p: Pair): string => `hints(${p.studentLayer}->${p.teacherTensor})`;

/** Whether the pair is two feature maps (else two vectors); refuses anything else in one line. */
function check(p: Pair, s: readonly number[], t: readonly number[]): boolean {
  const maps = s.length === 3 && t.length === 3;
  if ((maps && s[1] === t[1] && s[2] === t[2]) || (s.length === 1 && t.length === 1)) return maps;
  throw new KdError(
    `hints: student layer "${p.studentLayer}" is ${shapeText(s)} and teacher tensor "${p.teacherTensor}" is ${shapeText(t)}; ${maps ? "their spatial sizes must be equal (the regressor maps channels only)" : "a hint matches [C, H, W] to [C', H, W] or [D] to [D']"}`,
  );
}

/** Weight [C', C, 1, 1] and bias [C', 1, 1] of a 1×1 convolution, or [D, D'] and [D'] of a linear layer. */
function regressor(p: Pair, s: readonly number[], t: readonly number[]): ParamSpec[] {
  const maps = check(p, s, t);
  const [from, to] = [s[0]!, t[0]!];
  const fan: [number, number] = [from, to];
  const name = regressorName(p);
  // Glorot: the regressor is linear, with no ReLU after it for He's factor 2 to make up for.
  return [
    { name: `${name}.weight`, shape: maps ? [to, from, 1, 1] : [from, to], init: "glorot", fan, decay: true },
    { name: `${name}.bias`, shape: maps ? [to, 1, 1] : [to], init: "zeros", fan, decay: false },
  ];
}

/** A named tensor of one side of the step, which the step provides for every feature objective. */
export function featureOf(side: ObjectiveInputs["student"] | undefined, name: string): Tensor {
  const t = side?.tensors.get(name);
  if (!t) throw new Error(`the step provides no tensor "${name}"`);
  return t;
}

export const hints: ObjectiveDef<"hints"> = {
  params: z.strictObject({ teacherTensor: tensorName, studentLayer: tensorName }),
  summary:
    "FitNets hints (Romero et al. 2015): MSE between a teacher tensor and a learned 1×1 conv/linear map of a student layer",
  teacher: true,
  usesLabels: () => false,
  needsLabels: false,
  terms: ["hint"],
  help: {
    teacherTensor: "the teacher's ONNX tensor (kd summary --tensors teacher.onnx)",
    studentLayer: "the student's layer whose output is regressed onto it",
  },
  temperature: () => 1,
  build: (p, x) => {
    const s = featureOf(x.student, p.studentLayer);
    const t = featureOf(x.teacher, p.teacherTensor);
    if (!x.params) throw new Error("hints needs its regressor's parameters");
    const name = regressorName(p);
    const [w, b] = [x.params.get(`${name}.weight`), x.params.get(`${name}.bias`)];
    const r = o.add(s.rank === 4 ? o.conv2d(s, w) : o.matmul(s, w), b);
    // PyTorch's MSELoss (mean over every element), as FitNets' and RepDistiller's hint loss.
    const hint = o.mean(o.square(o.sub(r, t)));
    return { total: hint, parts: { hint } };
  },
  describe: (p) => `hints ${p.studentLayer} → ${p.teacherTensor}`,
  feature: {
    names: (p) => p,
    check: (p, s, t) => void check(p, s, t),
    params: regressor,
  },
};
