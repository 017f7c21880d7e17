/** Small specs for runner tests: a teacher, a student and a distilled student on 1,000 MNIST images. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";

export function tinySpec(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "tiny",
    data: {
      all: { source: { kind: "mnist", split: "train" } },
      train: { from: "all", take: { count: 1000, seed: 1 } },
      test: { source: { kind: "mnist", split: "test" }, first: 500 },
    },
    defaults: { train: "train", test: "test", lr: 0.05, epochs: 3, batchSize: 50 },
    runs: {
      // Declared first on purpose: the planner must still put its teacher before it.
      distilled: {
        model: { kind: "mlp", hidden: [32] },
        teachers: ["teacher"],
        objective: { kind: "kd", temperature: 4, softWeight: 0.7 },
        seed: 3,
      },
      teacher: { model: { kind: "mlp", hidden: [64] }, epochs: 4, seed: 1 },
      student: { model: { kind: "mlp", hidden: [32] }, seed: 2 },
    },
    ...over,
  };
}

export function writeSpec(dir: string, spec: Record<string, unknown>, name = "spec.yaml"): string {
  const p = join(dir, name);
  writeFileSync(p, stringify(spec));
  return p;
}

/** A spec as a free-form document, edited field by field in tests to break it on purpose. */
// biome-ignore lint/suspicious/noExplicitAny: a free-form YAML document
export type SpecDoc = any;
