/** `kd distill`: train a student on one or more ONNX teachers' soft targets — a one-run spec. */
import { type Command, Option } from "commander";
import type { DatasetSpec } from "../../data/sources.js";
import { valSplitMetadata } from "../../distill/transfer.js";
import type { ObjectiveSpec } from "../../objectives/index.js";
import { formatMetrics } from "../../report/text.js";
import { KdError } from "../../util/errors.js";
import {
  addDataOptions,
  addTrainOptions,
  classList,
  type DataFlags,
  num,
  oneRunSpec,
  runOneRunSpec,
  type TrainFlags,
} from "../options.js";

interface DistillFlags extends TrainFlags, DataFlags {
  teacher: string[];
  teacherInput?: string;
  teacherOutput?: string;
  teacherProbs?: boolean;
  ensemble: "prob" | "logit";
  temperature: number;
  softWeight: number;
  loss: "kd" | "match";
  omitClasses?: number[];
  onlyClasses?: number[];
  unlabeled?: boolean;
  transferImages?: string;
  transferLabels?: string;
  cache: boolean;
  cacheDir: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The objective the flags ask for. */
function objectiveOf(f: DistillFlags): ObjectiveSpec {
  switch (f.loss) {
    case "kd":
      return { kind: "kd", temperature: f.temperature, softWeight: f.softWeight };
    case "match":
      return { kind: "match", softWeight: f.softWeight };
  }
}

export function registerDistill(program: Command): void {
  const cmd = program
    .command("distill")
    .description("train a student on a teacher's (or an ensemble's) soft targets at temperature T")
    .requiredOption("--teacher <file.onnx>", "teacher ONNX classifier; repeat for an ensemble", collect)
    .option("--teacher-input <name>", "teacher input to feed (default: its only input)")
    .option(
      "--teacher-output <name>",
      "teacher output with the class scores (default: its only float output)",
    )
    .option("--teacher-probs", "the teacher outputs probabilities, not logits")
    .addOption(
      new Option("--ensemble <mode>", "how teachers combine: mean of softmax(v/T), or mean of logits")
        .choices(["prob", "logit"])
        .default("prob"),
    )
    .option(
      "--temperature <T>",
      "softmax temperature of the soft targets",
      num({ min: 0, minExclusive: true, max: 1000 }),
      20,
    )
    .option(
      "--soft-weight <w>",
      "weight of the T²-scaled soft term; the labels get 1 − w (unlabeled data: soft term only)",
      num({ min: 0, max: 1 }),
      0.5,
    )
    .addOption(
      new Option("--loss <kind>", "soft targets (kd) or matching zero-meaned logits (match)")
        .choices(["kd", "match"])
        .default("kd"),
    )
    .option("--omit-classes <list>", "transfer set without these classes, e.g. 3", classList)
    .option("--only-classes <list>", "transfer set of only these classes, e.g. 7,8", classList)
    .option("--unlabeled", "ignore labels: soft targets only")
    .option("--transfer-images <path>", "IDX images to use as the transfer set (default: the training set)")
    .option("--transfer-labels <path>", "IDX labels for --transfer-images")
    .option("--cache-dir <dir>", "where cached teacher logits live", ".kd-cache")
    .option("--no-cache", "run the teacher on every batch instead of caching its logits");
  addTrainOptions(cmd, { arch: "mlp:800,800", epochs: 20, lr: 0.05 });
  addDataOptions(cmd);
  cmd.action(async (f: DistillFlags) => {
    if (f.transferLabels && !f.transferImages)
      throw new KdError("--transfer-labels given without --transfer-images");
    const train: DatasetSpec | undefined = f.transferImages
      ? {
          source: {
            kind: "idx",
            images: f.transferImages,
            ...(f.transferLabels ? { labels: f.transferLabels } : {}),
          },
        }
      : undefined;
    const objective = objectiveOf(f);
    const raw = oneRunSpec(f, "distill", {
      ...(train ? { train } : {}),
      run: {
        objective,
        teachers: f.teacher.map((path) => ({
          path,
          ...(f.teacherInput ? { input: f.teacherInput } : {}),
          ...(f.teacherOutput ? { output: f.teacherOutput } : {}),
          ...(f.teacherProbs ? { probs: true } : {}),
        })),
        ensemble: f.ensemble,
        cache: f.cache,
        transfer: {
          ...(f.omitClasses ? { omitClasses: f.omitClasses } : {}),
          ...(f.onlyClasses ? { onlyClasses: f.onlyClasses } : {}),
          ...(f.unlabeled ? { unlabeled: true } : {}),
        },
      },
      metadata: {
        "kd.teachers": f.teacher.join(","),
        ...("temperature" in objective ? { "kd.temperature": String(objective.temperature) } : {}),
        // Where the validation split came from, so `kd adjust-bias --search` uses the same one.
        ...valSplitMetadata(
          f.val,
          f.seed,
          f.transferImages ?? f.trainImages,
          f.transferImages ? f.transferLabels : f.trainLabels,
        ),
      },
    });
    const rec = await runOneRunSpec(raw, f, f.cacheDir, [...f.teacher, f.transferImages, f.transferLabels]);
    if (!rec) return;
    const last = rec.history.at(-1);
    const summary = {
      out: f.out,
      transfer: { n: rec.trainExamples, labeled: !f.unlabeled },
      teacher: rec.teacher,
      seconds: rec.seconds,
      loss: last ? { total: last.loss, ...last.parts } : undefined,
      testErrors: rec.test?.errors,
      testAccuracy: rec.test?.accuracy,
      valErrors: rec.val?.errors,
    };
    if (f.json) console.log(JSON.stringify(summary));
    else {
      console.log(
        `wrote ${f.out}: ${rec.arch} distilled (${rec.objective}) on ${rec.trainExamples} examples, teacher ${rec.teacher}, ${rec.seconds.toFixed(1)} s`,
      );
      if (last)
        console.log(
          `final losses: total ${last.loss.toFixed(4)}${Object.entries(last.parts)
            .map(([k, v]) => `, ${k} ${v.toFixed(4)}`)
            .join("")}`,
        );
      if (rec.test)
        console.log(
          formatMetrics(
            {
              ...rec.test,
              perClass: rec.test.perClass.map((c) => ({ ...c, accuracy: c.total ? c.correct / c.total : 0 })),
            },
            "test",
          ),
        );
    }
  });
}
