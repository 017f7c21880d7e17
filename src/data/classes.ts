/** Class names across datasets and models: a test set's names mapped onto a model's classes, and classes left empty. */
import { ensure } from "../util/errors.js";
import { classCounts, type Dataset } from "./dataset.js";

/** `names` as a short list for a message: the first few, then how many more. */
export function someClasses(names: readonly (string | number)[], shown = 10): string {
  const head = names.slice(0, shown).join(", ");
  return names.length > shown ? `${head}, … (${names.length} in all)` : head;
}

/**
 * `ds` with its classes numbered as `names` numbers them. Names come from the data (a CSV's label
 * strings, an image folder's subfolders) and are numbered in sorted order within each file, so a
 * test set missing one of the training set's classes would otherwise shift every class after it.
 * Data without names, or a model without them, is taken as numbered already.
 */
export function alignClasses(ds: Dataset, names: readonly string[] | undefined, what: string): Dataset {
  const own = ds.classNames;
  if (names === undefined || own === undefined || ds.y === undefined) return ds;
  if (own.length === names.length && own.every((n, k) => n === names[k])) return ds;
  const index = new Map(names.map((n, k) => [n, k]));
  const to = own.map((n) => {
    const k = index.get(n);
    ensure(
      k !== undefined,
      () => `${ds.name}: class "${n}" is not one of ${what}'s classes (${someClasses(names)})`,
    );
    return k;
  });
  const y = ds.y.map((k) => to[k]!);
  return { ...ds, y, numClasses: Math.max(ds.numClasses, names.length), classNames: names };
}

/**
 * A one-line warning when classes 0..classes-1 of labelled data have no examples (labels {1, 2}
 * make an output for class 0 that nothing trains), or undefined. Classes a class filter removed on
 * purpose (Dataset.filteredOut) are not counted.
 */
export function emptyClassesWarning(ds: Dataset, classes: number): string | undefined {
  if (ds.y === undefined) return undefined;
  const counts = classCounts({ ...ds, numClasses: Math.max(ds.numClasses, classes) });
  const skip = new Set(ds.filteredOut ?? []);
  const empty: (string | number)[] = [];
  counts.forEach((c, k) => {
    if (c === 0 && !skip.has(k)) empty.push(ds.classNames?.[k] ?? k);
  });
  if (empty.length === 0) return undefined;
  const which = empty.length === 1 ? `class ${empty[0]}` : `classes ${someClasses(empty)}`;
  const them = empty.length === 1 ? "it" : "them";
  return `warning: ${ds.name} has no examples of ${which} (of ${counts.length} classes, 0 to ${counts.length - 1}); nothing trains the model's outputs for ${them}`;
}
