/** Logit matching (Caruana et al.): squared error of zero-meaned logits, the high-temperature limit of kd. */
import * as z from "zod/mini";
import { crossEntropy, logitMatchingLoss } from "../losses/losses.js";
import { mix, type ObjectiveDef, weight, zero } from "./types.js";

export const match: ObjectiveDef<"match"> = {
  params: z.strictObject({ softWeight: weight(0.5) }),
  summary: "squared error of zero-meaned logits (the high-T limit), mixed with CE",
  teacher: true,
  usesLabels: (p, labeled) => labeled && p.softWeight < 1,
  needsLabels: false,
  terms: ["soft", "hard"],
  help: { softWeight: "weight w of the soft term; labels get 1 − w" },
  temperature: () => 1,
  build: (p, x) => {
    const hard = x.targets ? crossEntropy(x.student.logits, x.targets) : undefined;
    const soft = logitMatchingLoss(x.student.logits, x.teacher!.logits);
    return { total: mix(soft, hard, p.softWeight), parts: { soft, hard: hard ?? zero(soft) } };
  },
  describe: (p) => `logit matching (w=${p.softWeight})`,
};
