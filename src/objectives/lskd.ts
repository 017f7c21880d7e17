/**
 * Logit-standardised KD (Sun et al., CVPR 2024): kdWeight·T²·KL at base temperature T between the
 * z-scored logits, plus ceWeight·CE. Defaults are the authors' (T 2, KD weight 9, CE weight 0.1).
 */
import * as z from "zod/mini";
import * as o from "../ir/ops.js";
import { crossEntropy } from "../losses/losses.js";
import { lskdLoss } from "../losses/lskd.js";
import { addCe, lossWeight, type ObjectiveDef, temperature, zero } from "./types.js";

export const lskd: ObjectiveDef<"lskd"> = {
  params: z.strictObject({
    temperature: temperature(2),
    kdWeight: lossWeight(9),
    ceWeight: lossWeight(0.1),
  }),
  summary: "logit-standardised KD (Sun et al. 2024): KL between z-scored logits at a base T",
  teacher: true,
  usesLabels: (p, labeled) => labeled && p.ceWeight > 0,
  needsLabels: false,
  terms: ["ce", "kl"],
  help: {
    temperature: "softmax temperature",
    kdWeight: "weight of the distillation term",
    ceWeight: "weight of the labels' cross-entropy",
  },
  // A "prob" ensemble averages members before standardisation; at T = 1 it is their plain mean.
  temperature: () => 1,
  build: (p, x) => {
    const hard = x.targets ? crossEntropy(x.student.logits, x.targets) : undefined;
    const d = lskdLoss(x.student.logits, x.teacher!.logits, p);
    const kd = p.kdWeight === 1 ? d.total : o.mul(d.total, p.kdWeight);
    return { total: addCe(kd, hard, p.ceWeight), parts: { ce: hard ?? zero(kd), ...d.terms } };
  },
  describe: (p) => `LSKD T=${p.temperature} (KD weight ${p.kdWeight}, CE weight ${p.ceWeight})`,
};
