/** Cross-entropy with the labels alone: the students and teachers that learn without a teacher. */
import * as z from "zod/mini";
import { crossEntropy } from "../losses/losses.js";
import type { ObjectiveDef } from "./types.js";

export const ce: ObjectiveDef<"ce"> = {
  params: z.strictObject({}),
  summary: "cross-entropy with the labels",
  teacher: false,
  usesLabels: () => true,
  needsLabels: true,
  terms: ["ce"],
  help: {},
  temperature: () => 1,
  build: (_, x) => {
    const hard = crossEntropy(x.student.logits, x.targets!);
    return { total: hard, parts: { ce: hard } };
  },
  describe: () => "labels",
};
