/** Hinton et al. (2015): soft targets at temperature T, w·T²·KL(p‖q) + (1 − w)·CE(labels). */
import * as z from "zod/mini";
import { crossEntropy, softTargetLoss } from "../losses/losses.js";
import { mix, type ObjectiveDef, temperature, weight, zero } from "./types.js";

export const kd: ObjectiveDef<"kd"> = {
  params: z.strictObject({ temperature: temperature(20), softWeight: weight(0.5) }),
  summary: "soft targets at temperature T (Hinton et al. 2015): w·T²·KL(p‖q) + (1−w)·CE",
  teacher: true,
  usesLabels: (p, labeled) => labeled && p.softWeight < 1,
  needsLabels: false,
  terms: ["soft", "hard"],
  help: {
    temperature: "softmax temperature",
    softWeight: "weight w of the soft term; labels get 1 − w",
  },
  temperature: (p) => p.temperature,
  build: (p, x) => {
    // CE first: the node order of the step graph is part of what makes runs bit-reproducible.
    const hard = x.targets ? crossEntropy(x.student.logits, x.targets) : undefined;
    const soft = softTargetLoss(x.student.logits, x.teacher!.logits, p.temperature);
    return { total: mix(soft, hard, p.softWeight), parts: { soft, hard: hard ?? zero(soft) } };
  },
  describe: (p) => `soft targets T=${p.temperature} (w=${p.softWeight})`,
};
