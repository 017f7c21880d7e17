/**
 * Attention transfer (Zagoruyko & Komodakis 2017): the student's spatial attention map matches the
 * teacher's. Map Q = vec(mean over channels of f²) (p = 2), L2-normalised per example; the loss is
 * β/2 · (1/(N·H·W)) Σₙ ‖Qₛ,ₙ − Qₜ,ₙ‖₂² with β = 1000 — the authors' code (at_loss = (at(x) −
 * at(y)).pow(2).mean(), times β/2), which is the paper's β "divided by the number of elements in
 * the attention map and batch size". Channels may differ; spatial sizes must be equal.
 */
import * as z from "zod/mini";
import * as o from "../ir/ops.js";
import type { Tensor } from "../ir/tensor.js";
import { KdError } from "../util/errors.js";
import { featureOf } from "./hints.js";
import { type ObjectiveDef, shapeText, tensorName } from "./types.js";

/**
 * Added under the square root of the norm: ‖q‖ ≥ 1e-6, so an all-zero map (a dead ReLU layer) has a
 * finite gradient; PyTorch's F.normalize clamps the norm at 1e-12 instead.
 */
const NORM_EPS = 1e-12;

/** [N, C, H, W] → [N, H·W]: the mean over channels of f², each row divided by its L2 norm. */
export function attentionMap(f: Tensor): Tensor {
  const [n, , h, w] = f.shape;
  const a = o.reshape(o.mean(o.square(f), [1]), [n!, (h as number) * (w as number)]);
  return o.div(a, o.sqrt(o.add(o.sum(o.square(a), [1], true), NORM_EPS)));
}

export const attention: ObjectiveDef<"attention"> = {
  params: z.strictObject({
    teacherTensor: tensorName,
    studentLayer: tensorName,
    beta: z._default(z.number().check(z.positive(), z.maximum(1e6)), 1000),
  }),
  summary:
    "attention transfer (Zagoruyko & Komodakis 2017): β/2 · mean squared difference of normalised spatial attention maps",
  teacher: true,
  usesLabels: () => false,
  needsLabels: false,
  terms: ["at"],
  help: {
    teacherTensor: "the teacher's ONNX tensor, [C, H, W] (kd summary --tensors teacher.onnx)",
    studentLayer: "the student's layer, [C', H, W]",
    beta: "β of β/2 · mean (Qs − Qt)² (the paper's 1000)",
  },
  temperature: () => 1,
  build: (p, x) => {
    const qs = attentionMap(featureOf(x.student, p.studentLayer));
    const qt = attentionMap(featureOf(x.teacher, p.teacherTensor));
    const at = o.mul(o.mean(o.square(o.sub(qs, qt))), p.beta / 2);
    return { total: at, parts: { at } };
  },
  describe: (p) => `attention transfer ${p.studentLayer} → ${p.teacherTensor} (β=${p.beta})`,
  feature: {
    names: (p) => p,
    check: (p, s, t) => {
      if (s.length === 3 && t.length === 3 && s[1] === t[1] && s[2] === t[2]) return;
      throw new KdError(
        `attention: student layer "${p.studentLayer}" is ${shapeText(s)} and teacher tensor "${p.teacherTensor}" is ${shapeText(t)}; attention transfer needs feature maps [C, H, W] of equal spatial size (channels may differ)`,
      );
    },
    params: () => [],
  },
};
