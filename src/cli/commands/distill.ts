/** `kd distill`: train a student on one or more ONNX teachers' soft targets. */
import { type Command, Option } from "commander";
import { loadIdxDataset } from "../../data/dataset.js";
import { distill } from "../../distill/distill.js";
import { holdOut, transferSet, valSplitMetadata } from "../../distill/transfer.js";
import { formatMetrics } from "../../report/text.js";
import { KdError } from "../../util/errors.js";
import {
  addDataOptions,
  addTrainOptions,
  classList,
  type DataFlags,
  jobFromFlags,
  loadData,
  modelFromFlags,
  num,
  type TrainFlags,
} from "../options.js";
import { progressBar } from "../progress.js";

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
  fraction?: number;
  count?: number;
  unlabeled?: boolean;
  transferImages?: string;
  transferLabels?: string;
  cacheDir: string;
  cache: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

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
    .option(
      "--fraction <f>",
      "keep this fraction of the transfer set",
      num({ min: 0, minExclusive: true, max: 1 }),
    )
    .option("--count <n>", "keep this many transfer examples", num({ int: true, min: 1 }))
    .option("--unlabeled", "ignore labels: soft targets only")
    .option("--transfer-images <path>", "IDX images to use as the transfer set (default: the training set)")
    .option("--transfer-labels <path>", "IDX labels for --transfer-images")
    .option("--cache-dir <dir>", "where cached teacher logits live", ".kd-cache")
    .option("--no-cache", "run the teacher on every batch instead of caching its logits");
  addTrainOptions(cmd, { arch: "mlp:800,800", epochs: 20, lr: 0.05 });
  addDataOptions(cmd, "both");
  cmd.action(async (f: DistillFlags) => {
    if (f.transferLabels && !f.transferImages)
      throw new KdError("--transfer-labels given without --transfer-images");
    const base = f.transferImages ? loadIdxDataset(f.transferImages, f.transferLabels) : loadData(f, "train");
    const { train: rest, val } = holdOut(base, f.val, f.seed);
    const transfer = transferSet(rest, {
      ...(f.omitClasses ? { omitClasses: f.omitClasses } : {}),
      ...(f.onlyClasses ? { onlyClasses: f.onlyClasses } : {}),
      ...(f.fraction !== undefined ? { fraction: f.fraction } : {}),
      ...(f.count !== undefined ? { count: f.count } : {}),
      ...(f.unlabeled ? { unlabeled: true } : {}),
      seed: f.seed,
    });
    const test = loadData(f, "test");
    const model = modelFromFlags(f, transfer, Math.max(base.numClasses, test.numClasses));
    const bar = progressBar(f.progress, "distill");
    const res = await distill({
      model,
      train: transfer,
      test,
      ...(val ? { val } : {}),
      teachers: {
        paths: f.teacher,
        ensemble: f.ensemble,
        ...(f.teacherInput ? { input: f.teacherInput } : {}),
        ...(f.teacherOutput ? { output: f.teacherOutput } : {}),
        outputs: f.teacherProbs ? "probs" : "logits",
        ...(f.threads ? { threads: f.threads } : {}),
      },
      temperature: f.temperature,
      softWeight: f.softWeight,
      loss: f.loss,
      ...(f.cache ? { cacheDir: f.cacheDir } : { noCache: true }),
      onNote: (m) => process.stderr.write(`kd: ${m}\n`),
      ...jobFromFlags(f, bar),
      metadata: {
        "kd.teachers": f.teacher.join(","),
        "kd.temperature": String(f.temperature),
        // Where the validation split came from, so `kd adjust-bias --search` uses the same one.
        ...valSplitMetadata(
          f.val,
          f.seed,
          f.transferImages ?? f.trainImages,
          f.transferImages ? f.transferLabels : f.trainLabels,
        ),
      },
    }).finally(() => bar.stop());
    const last = res.history.at(-1);
    const summary = {
      out: f.out,
      transfer: { name: transfer.name, n: transfer.n, labeled: transfer.y !== undefined },
      teacher: res.teacherMode,
      seconds: res.seconds,
      loss: last ? { total: last.loss, soft: last.soft, hard: last.hard } : undefined,
      testErrors: res.test?.errors,
      testAccuracy: res.test?.accuracy,
      valErrors: res.val?.errors,
    };
    if (f.json) console.log(JSON.stringify(summary));
    else {
      const teacher =
        res.teacherMode.kind === "live" ? "run on every batch" : `cached (${res.teacherMode.status})`;
      console.log(
        `wrote ${f.out}: ${model.arch} distilled at T=${f.temperature} on ${transfer.n} examples, teacher ${teacher}, ${res.seconds.toFixed(1)} s`,
      );
      if (last)
        console.log(
          `final losses: total ${last.loss.toFixed(4)}, soft ${last.soft.toFixed(4)}, hard ${last.hard.toFixed(4)}`,
        );
      if (res.test) console.log(formatMetrics(res.test, "test"));
    }
  });
}
