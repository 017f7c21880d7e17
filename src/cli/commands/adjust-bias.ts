/** `kd adjust-bias`: shift output biases of classes the student never saw; optionally search the shift on validation data. */
import type { Command } from "commander";
import { checkClasses } from "../../data/checks.js";
import { type Dataset, loadIdxDataset } from "../../data/dataset.js";
import { searchShift, shiftModelBytes, shiftVector } from "../../distill/bias.js";
import { holdOut } from "../../distill/transfer.js";
import { readValSplit } from "../../onnx/metadata.js";
import { decodeModel } from "../../onnx/proto.js";
import { OnnxClassifier } from "../../runtime/classifier.js";
import { writeFileAtomic } from "../../util/atomic.js";
import { KdError } from "../../util/errors.js";
import { checkOutputPath } from "../../util/paths.js";
import { classList, type DataFlags, loadData, num } from "../options.js";

interface AdjustFlags extends DataFlags {
  class: number[];
  shift?: number;
  search?: boolean;
  val?: number;
  seed?: number;
  valImages?: string;
  valLabels?: string;
  range: number;
  input?: string;
  output?: string;
  out: string;
  json?: boolean;
}

/**
 * The validation split the model was distilled with (its metadata), so the search never sees
 * examples the student trained on. Flags may restate it but not contradict it.
 *
 * Policy on paths stored in a model (kd.val_images, kd.val_labels): a model file is untrusted, so
 * kd never opens a path it names. They only tell the user which files to pass: when the model
 * records them, --train-images (and --train-labels) must be given, naming those files.
 */
function recordedSplit(path: string, bytes: Uint8Array, f: AdjustFlags): Dataset {
  const { count, seed, images, labels } = readValSplit(decodeModel(bytes), path);
  if (count > 0) {
    if ((f.val !== undefined && f.val !== count) || (f.seed !== undefined && f.seed !== seed))
      throw new KdError(
        `${path} was distilled with --val ${count} --seed ${seed}; a different split would include its training examples`,
      );
    if (images !== undefined && !f.trainImages) {
      const named = `${JSON.stringify(images)}${labels ? ` and ${JSON.stringify(labels)}` : ""}`;
      throw new KdError(
        `${path} took its validation split from ${named}; kd does not open paths stored in a model: pass --train-images${labels ? " and --train-labels" : ""} naming those files`,
      );
    }
    return holdOut(loadData(f, "train"), count, seed).val!;
  }
  if (f.val === undefined)
    throw new KdError(
      `${path} records no validation split: distil with --val N, or give --val N / --val-images`,
    );
  return holdOut(loadData(f, "train"), f.val, f.seed ?? 1).val!;
}

export function registerAdjustBias(program: Command): void {
  program
    .command("adjust-bias")
    .description(
      "raise or lower the output biases of some classes; --search finds the shift on validation data",
    )
    .argument("<model.onnx>", "an ONNX classifier")
    .requiredOption("--class <list>", "classes whose bias moves, e.g. 3 or 7,8", classList)
    .option("--shift <s>", "amount added to those biases (negative lowers)", num({ min: -1000, max: 1000 }))
    .option("--search", "find the shift that maximises validation accuracy (never uses the test set)")
    .option(
      "--val <n>",
      "validation examples held out of the training set (default: the split the model records)",
      num({ int: true, min: 1 }),
    )
    .option(
      "--seed <n>",
      "seed of that split (default: the one the model records)",
      num({ int: true, min: 0 }),
    )
    .option("--val-images <path>", "IDX validation images instead of a split of the training set")
    .option("--val-labels <path>", "IDX labels for --val-images")
    .option("--range <r>", "search shifts in [−r, r]", num({ min: 0, minExclusive: true, max: 1000 }), 20)
    .option("--input <name>", "input to feed (default: the only one)")
    .option("--output <name>", "output holding the logits (for models not written by kd)")
    .option("--train-images <path>", "training images the validation split comes from (default MNIST)")
    .option("--train-labels <path>", "labels for --train-images")
    .requiredOption("--out <file.onnx>", "the adjusted model")
    .option("--json", "print the result as JSON")
    .action(async (path: string, f: AdjustFlags) => {
      if ((f.shift === undefined) === !f.search) throw new KdError("give either --shift S or --search");
      if (f.valLabels && !f.valImages) throw new KdError("--val-labels given without --val-images");
      checkOutputPath(f.out, [path, f.valImages, f.valLabels, f.trainImages, f.trainLabels]);
      let shift = f.shift ?? 0;
      let search: ReturnType<typeof searchShift> | undefined;
      const clf = await OnnxClassifier.load(path, {
        ...(f.input ? { input: f.input } : {}),
        ...(f.output ? { output: f.output } : {}),
        flags: { input: "--input", output: "--output" },
      });
      // The model as ONNX Runtime runs it: external data already inlined from its own folder.
      const bytes = clf.modelBytes;
      checkClasses(f.class, clf.numClasses, "--class");
      if (f.search) {
        const val = f.valImages ? loadIdxDataset(f.valImages, f.valLabels) : recordedSplit(path, bytes, f);
        if (!val.y) throw new KdError("validation data needs labels");
        if (val.features !== clf.features)
          throw new KdError(
            `${path} takes ${clf.features} values per example; ${val.name} has ${val.features}`,
          );
        if (val.numClasses > clf.numClasses)
          throw new KdError(`${path} outputs ${clf.numClasses} classes; ${val.name} has ${val.numClasses}`);
        search = searchShift(await clf.logitsOf(val), val.y, clf.numClasses, f.class, {
          range: f.range,
        });
        shift = search.shift;
      }
      const { bytes: out, how } = shiftModelBytes(
        bytes,
        shiftVector(clf.numClasses, f.class, shift),
        f.output ?? (clf.outputName === "logits" ? undefined : clf.outputName),
      );
      await clf.release();
      writeFileAtomic(f.out, out, "--out");
      const res = { model: path, out: f.out, classes: f.class, shift, how, ...(search ? { search } : {}) };
      if (f.json) console.log(JSON.stringify(res));
      else {
        const where = how === "bias" ? "output bias edited" : "Add node on the logits";
        console.log(`wrote ${f.out}: classes ${f.class.join(",")} shifted by ${shift} (${where})`);
        if (search)
          console.log(
            `validation (${search.n} examples): ${search.baselineErrors} errors unshifted, ${search.errors} at the best shift ${search.shift}`,
          );
      }
    });
}
