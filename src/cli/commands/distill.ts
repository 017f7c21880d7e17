/** `kd distill`: train a student on one or more ONNX teachers' soft targets — a one-run spec. */
import { type Command, InvalidArgumentError, Option } from "commander";
import * as z from "zod/mini";
import type { DatasetSpec } from "../../data/sources.js";
import {
  OBJECTIVE_KINDS,
  OBJECTIVES,
  type ObjectiveKind,
  type ObjectiveSpec,
  type PlusTerm,
  withDefaults,
} from "../../objectives/index.js";
import { META, readDataRecord, valSplitMetadata } from "../../onnx/metadata.js";
import { formatMetrics } from "../../report/text.js";
import { parseModelFile } from "../../runtime/classifier.js";
import { checkMnistDefault } from "../../runtime/data-record.js";
import { KdError } from "../../util/errors.js";
import {
  addDataOptions,
  addTrainOptions,
  classList,
  type DataFlags,
  dataPath,
  num,
  oneRunSpec,
  outPath,
  runOneRunSpec,
  type TrainFlags,
} from "../options.js";
import { MNIST_DEFAULT, MNIST_FLAG } from "./test-data.js";

interface DistillFlags extends TrainFlags, DataFlags {
  teacher: string[];
  teacherInput?: string;
  teacherOutput?: string;
  teacherProbs?: boolean;
  ensemble: "prob" | "logit";
  loss: ObjectiveKind;
  omitClasses?: number[];
  onlyClasses?: number[];
  unlabeled?: boolean;
  transferImages?: string;
  transferLabels?: string;
  cache: boolean;
  cacheDir: string;
  featureCap?: number;
  mnist?: boolean;
  [param: string]: unknown;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The objectives `--loss` offers: those that learn from a teacher's logits. */
const TEACHER_KINDS = OBJECTIVE_KINDS.filter((k) => OBJECTIVES[k].teacher && !OBJECTIVES[k].feature);
/** Feature objectives: each a repeatable flag (`--hints`) adding a weighted term to the `--loss` one. */
const FEATURE_KINDS = OBJECTIVE_KINDS.filter((k) => OBJECTIVES[k].feature);
/** The names a student's layers go by, for the feature flags' help. */
const LAYER_NAMES =
  "LAYER: cnn conv1, conv2...; resnet stem, stage1.block1, ..., pool; mobilenet stem, block1, ..., pool; mlp fc1...; layers l1, l2... (kd summary --tensors lists them in a model kd exported)";

/** A parameter's flag: `softWeight` → `--soft-weight`. */
const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** The value's name in a flag's usage where the papers' letter reads better than `<number>`. */
const VALUE_NAMES: Readonly<Record<string, string>> = {
  temperature: "T",
  softWeight: "w",
  alpha: "a",
  beta: "b",
  gamma: "g",
  warmup: "epochs",
  kdWeight: "k",
  ceWeight: "c",
};

/** An objective's parameter schemas by name. */
const paramShape = (kind: ObjectiveKind): Readonly<Record<string, z.core.$ZodType>> =>
  (OBJECTIVES[kind].params as z.ZodMiniObject).shape;

interface ParamFlag {
  readonly key: string;
  readonly help: string;
  /** Whether 0 itself is refused (a temperature), checked when the flag is read. */
  readonly positive: boolean;
}

/**
 * One flag per parameter of any teacher objective, its help and defaults read from the registry:
 * kinds that describe a parameter alike share one phrase, e.g. "kd/dkd: softmax temperature (kd: 20, dkd: 4)".
 */
function paramFlags(): ParamFlag[] {
  const byKey = new Map<string, { help: string; kinds: ObjectiveKind[] }[]>();
  for (const kind of TEACHER_KINDS)
    for (const [key, help] of Object.entries(OBJECTIVES[kind].help as Record<string, string>)) {
      const groups = byKey.get(key) ?? [];
      const g = groups.find((x) => x.help === help);
      if (g) g.kinds.push(kind);
      else groups.push({ help, kinds: [kind] });
      byKey.set(key, groups);
    }
  return [...byKey].map(([key, groups]) => {
    const phrase = ({ help, kinds }: { help: string; kinds: ObjectiveKind[] }) => {
      const d = kinds.map((k) => String((withDefaults(k) as Record<string, unknown>)[key]));
      const defaults =
        new Set(d).size === 1 ? `default ${d[0]}` : kinds.map((k, i) => `${k}: ${d[i]}`).join(", ");
      return `${kinds.join("/")}: ${help} (${defaults})`;
    };
    const positive = groups.some((g) => g.kinds.some((k) => !z.safeParse(paramShape(k)[key]!, 0).success));
    return { key, help: groups.map(phrase).join("; "), positive };
  });
}

/** The names of a feature kind's parameters after TENSOR=LAYER: its numbers, and the term's weight. */
const featureKeys = (kind: ObjectiveKind) => [
  "weight",
  ...Object.keys(paramShape(kind)).filter((k) => k !== "teacherTensor" && k !== "studentLayer"),
];

/**
 * `--hints TENSOR=LAYER[,weight=W][,key=V]`: a weighted term of a feature kind. The numbers are
 * read off the end and the layer (kd's own names, never with "=") after the last "=", so a teacher
 * tensor may hold any character.
 */
function featureTerm(kind: ObjectiveKind) {
  const keys = featureKeys(kind);
  const usage = `expected TENSOR=LAYER${keys.map((k) => `[,${k}=N]`).join("")}`;
  return (raw: string, prev: PlusTerm[] = []): PlusTerm[] => {
    let rest = raw;
    const given: Record<string, number> = {};
    for (;;) {
      const m = /,([A-Za-z]+)=([^,=]*)$/.exec(rest);
      if (!m || !keys.includes(m[1]!)) break;
      given[m[1]!] = num({ min: 0, max: 1e6 })(m[2]!);
      rest = rest.slice(0, m.index);
    }
    const eq = rest.lastIndexOf("=");
    if (eq <= 0 || eq === rest.length - 1) throw new InvalidArgumentError(usage);
    const { weight, ...params } = given;
    const names = { teacherTensor: rest.slice(0, eq), studentLayer: rest.slice(eq + 1) };
    return [...prev, { ...withDefaults(kind, { ...names, ...params }), weight: weight ?? 1 } as PlusTerm];
  };
}

/** The objective the flags ask for: its registry defaults, overridden by the flags given, plus the feature terms. */
function objectiveOf(f: DistillFlags, flags: readonly ParamFlag[]): ObjectiveSpec {
  const shape = paramShape(f.loss);
  const given: Record<string, unknown> = {};
  for (const { key } of flags) {
    if (f[key] === undefined) continue;
    if (!(key in shape)) throw new KdError(`${flagOf(key)} does not apply to --loss ${f.loss}`);
    given[key] = f[key];
  }
  const plus = FEATURE_KINDS.flatMap((k) => (f[k] as PlusTerm[] | undefined) ?? []);
  return { ...withDefaults(f.loss, given), ...(plus.length > 0 ? { plus } : {}) };
}

/**
 * The sets a default filled with the embedded MNIST, for the first output line; refused (unless
 * --mnist) when a teacher records that it was trained on other data.
 */
function mnistDefaults(f: DistillFlags): string[] {
  const defaults = [
    ...(!f.transferImages && dataPath(f, "train") === undefined ? [`training: ${MNIST_DEFAULT.train}`] : []),
    ...(dataPath(f, "test") === undefined ? [`test: ${MNIST_DEFAULT.test}`] : []),
  ];
  const flag = f.transferImages ? "--test" : "--train and --test";
  if (defaults.length > 0 && !f.mnist)
    for (const t of f.teacher)
      checkMnistDefault(readDataRecord(parseModelFile(t).model, t), `teacher ${t}`, flag, false);
  return defaults;
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
    .addOption(
      new Option("--loss <kind>", "the distillation objective (README: Objectives)")
        .choices(TEACHER_KINDS)
        .default("kd"),
    )
    .option("--omit-classes <list>", "transfer set without these classes, e.g. 3", classList)
    .option("--only-classes <list>", "transfer set of only these classes, e.g. 7,8", classList)
    .option("--unlabeled", "ignore labels: soft targets only")
    .option(
      "--mixup <alpha>",
      "function matching: mix the batch's examples in pairs, λ from Beta(alpha, alpha) (Beyer et al. use 1), the teacher run live on the mixed batch, no logit cache (needs an objective without labels; 0: off)",
      num({ min: 0, max: 100 }),
    )
    .option(
      "--transfer-images <path>",
      "data to use as the transfer set, any format (default: the training set)",
    )
    .option("--transfer-labels <path>", "labels for --transfer-images")
    .option("--cache-dir <dir>", "where cached teacher logits live", ".kd-cache")
    .option("--no-cache", "run the teacher on every batch instead of caching its logits (and features)")
    .option(
      "--feature-cap <GiB>",
      "memory the teacher's cached features (--hints, --attention) may take (default 1)",
      num({ min: 0, minExclusive: true, max: 1024 }),
    )
    .option(...MNIST_FLAG);
  const flags = paramFlags();
  for (const { key, help, positive } of flags)
    cmd.option(
      `${flagOf(key)} <${VALUE_NAMES[key] ?? "number"}>`,
      help,
      num({ min: 0, minExclusive: positive, max: 100_000 }),
    );
  for (const kind of FEATURE_KINDS)
    cmd.option(
      `--${kind} <${featureKeys(kind).length > 1 ? "TENSOR=LAYER[,weight=W,...]" : "TENSOR=LAYER[,weight=W]"}>`,
      `add ${OBJECTIVES[kind].summary}, weight W (default 1)${featureKeys(kind).length > 1 ? `, ${featureKeys(kind).slice(1).join(", ")} as in a spec` : ""}; repeatable. TENSOR: kd summary --tensors teacher.onnx; ${LAYER_NAMES}`,
      featureTerm(kind),
    );
  addTrainOptions(cmd, { arch: "mlp:800,800", epochs: 20, lr: 0.05 });
  addDataOptions(cmd);
  cmd.action(async (f: DistillFlags) => {
    if (f.transferLabels && !f.transferImages)
      throw new KdError("--transfer-labels given without --transfer-images");
    const train: DatasetSpec | undefined = f.transferImages
      ? {
          source: {
            kind: "file",
            path: f.transferImages,
            ...(f.transferLabels ? { labels: f.transferLabels } : {}),
          },
        }
      : undefined;
    const objective = objectiveOf(f, flags);
    const defaults = mnistDefaults(f);
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
        ...(f.featureCap !== undefined ? { featureCap: f.featureCap } : {}),
        transfer: {
          ...(f.omitClasses ? { omitClasses: f.omitClasses } : {}),
          ...(f.onlyClasses ? { onlyClasses: f.onlyClasses } : {}),
          ...(f.unlabeled ? { unlabeled: true } : {}),
        },
      },
      metadata: {
        [META.teachers]: f.teacher.join(","),
        ...("temperature" in objective ? { [META.temperature]: String(objective.temperature) } : {}),
        // Where the validation split came from, so `kd adjust-bias --search` uses the same one.
        ...valSplitMetadata({
          count: f.val,
          seed: f.seed,
          images: f.transferImages ?? dataPath(f, "train"),
          labels: f.transferImages ? f.transferLabels : f.trainLabels,
        }),
      },
    });
    // Which data a default picked comes first (with --json, in the summary, keeping stderr for errors).
    if (defaults.length > 0 && !f.printSpec && !f.json) console.log(`data: ${defaults.join("; ")}`);
    const rec = await runOneRunSpec(raw, f, f.cacheDir, [...f.teacher, f.transferImages, f.transferLabels]);
    if (!rec) return;
    const last = rec.history.at(-1);
    const out = outPath(f, "distill");
    const summary = {
      ...(defaults.length > 0 ? { data: defaults } : {}),
      out,
      transfer: { n: rec.trainExamples, labeled: !f.unlabeled },
      teacher: rec.teacher,
      ...(rec.diverged ? { diverged: true } : {}),
      seconds: rec.seconds,
      loss: last ? { total: last.loss, ...last.parts } : undefined,
      testErrors: rec.test?.errors,
      testAccuracy: rec.test?.accuracy,
      valErrors: rec.val?.errors,
    };
    if (f.json) console.log(JSON.stringify(summary));
    else {
      console.log(
        `wrote ${out}: ${rec.arch} distilled (${rec.objective}) on ${rec.trainExamples} examples, teacher ${rec.teacher}, ${rec.seconds.toFixed(1)} s`,
      );
      if (last)
        console.log(
          `final losses: total ${last.loss.toFixed(4)}${Object.entries(last.parts)
            .map(([k, v]) => `, ${k} ${v.toFixed(4)}`)
            .join("")}`,
        );
      if (rec.test) console.log(formatMetrics(rec.test, "test"));
    }
  });
}
