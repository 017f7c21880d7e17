/**
 * Decoupled KD (Zhao et al., CVPR 2022): ceWeight·CE + warm-up·T²·(α·TCKD + β·NCKD), the warm-up
 * rising linearly to 1 over `warmup` epochs. Defaults are mdistiller's CIFAR-100 ones (α 1, β 8,
 * T 4, 20 warm-up epochs, CE weight 1). The loss itself is losses/dkd.ts (log-sum-exp throughout).
 */
import * as z from "zod/mini";
import { dkdLoss } from "../losses/dkd.js";
import { crossEntropy } from "../losses/losses.js";
import { addCe, lossWeight, type ObjectiveDef, temperature } from "./types.js";

export const dkd: ObjectiveDef<"dkd"> = {
  params: z.strictObject({
    temperature: temperature(4),
    alpha: lossWeight(1),
    beta: lossWeight(8),
    warmup: z._default(z.int().check(z.minimum(0), z.maximum(100_000)), 20),
    ceWeight: lossWeight(1),
  }),
  summary: "decoupled KD (Zhao et al. 2022): CE + T²·(α·TCKD + β·NCKD), warmed up",
  teacher: true,
  // The target class splits the distribution: DKD cannot do without labels.
  usesLabels: () => true,
  needsLabels: true,
  terms: ["ce", "tckd", "nckd"],
  help: {
    temperature: "softmax temperature",
    alpha: "weight of the target-class term TCKD",
    beta: "weight of the non-target term NCKD",
    warmup: "epochs over which its weight rises to 1",
    ceWeight: "weight of the labels' cross-entropy",
  },
  temperature: (p) => p.temperature,
  // mdistiller counts epochs from 1: min(epoch / warmup, 1).
  warmup: (p, epoch) => (p.warmup === 0 ? 1 : Math.min(1, (epoch + 1) / p.warmup)),
  build: (p, x) => {
    const hard = crossEntropy(x.student.logits, x.targets!);
    const d = dkdLoss(x.student.logits, x.teacher!.logits, x.targets!, p);
    return { total: addCe(d.total, hard, p.ceWeight, x.scale), parts: { ce: hard, ...d.terms } };
  },
  describe: (p) => `DKD T=${p.temperature} (α=${p.alpha}, β=${p.beta}, warm-up ${p.warmup})`,
};
