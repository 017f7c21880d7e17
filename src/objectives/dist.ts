/**
 * DIST (Huang et al., NeurIPS 2022): T²·(β·(1 − inter-class Pearson) + γ·(1 − intra-class
 * Pearson)) between student and teacher probabilities at T, plus ceWeight·CE. Defaults: the
 * paper's β = γ = 1, T = 1, CE weight 1 (the official configs also scale the DIST term by 2).
 */
import * as z from "zod/mini";
import { distLoss } from "../losses/dist.js";
import { crossEntropy } from "../losses/losses.js";
import { addCe, lossWeight, type ObjectiveDef, temperature, zero } from "./types.js";

export const dist: ObjectiveDef<"dist"> = {
  params: z.strictObject({
    temperature: temperature(1),
    beta: lossWeight(1),
    gamma: lossWeight(1),
    ceWeight: lossWeight(1),
  }),
  summary: "DIST (Huang et al. 2022): Pearson correlation of probabilities, per example and per class",
  teacher: true,
  usesLabels: (p, labeled) => labeled && p.ceWeight > 0,
  needsLabels: false,
  terms: ["ce", "inter", "intra"],
  help: {
    temperature: "softmax temperature",
    beta: "inter-class weight",
    gamma: "intra-class weight",
    ceWeight: "weight of the labels' cross-entropy",
  },
  temperature: (p) => p.temperature,
  build: (p, x) => {
    const hard = x.targets ? crossEntropy(x.student.logits, x.targets) : undefined;
    const d = distLoss(x.student.logits, x.teacher!.logits, p);
    return { total: addCe(d.total, hard, p.ceWeight), parts: { ce: hard ?? zero(d.total), ...d.terms } };
  },
  describe: (p) => `DIST T=${p.temperature} (β=${p.beta}, γ=${p.gamma})`,
};
