/**
 * Tabular data from CSV text: a header row (or none), numeric feature columns and one label column
 * of class numbers or names. No file system and no csv-parse import: the caller passes csv-parse's
 * `parse` (kd's loader in csv.ts its Node build; the page its browser build, a bundle of its own
 * loaded when a CSV file is given), so the page's main bundle stays small.
 */
import type { parse as csvParse } from "csv-parse/sync";
import { ensure, KdError } from "../util/errors.js";
import { type ArrayDatasetOptions, datasetFromArrays } from "./arrays.js";
import type { Dataset } from "./types.js";

/** csv-parse's synchronous parser (`parse` of csv-parse/sync, or of its browser build). */
export type CsvParse = typeof csvParse;

export interface CsvOptions extends ArrayDatasetOptions {
  /**
   * The label column, by header name or 0-based index. Default: the column named "label", else
   * the last column. `null`: no label column (every column is a feature; unlabeled data).
   */
  readonly labelColumn?: string | number | null;
  /** Field delimiter (default ","; a .tsv file defaults to a tab). */
  readonly delimiter?: string;
}

/**
 * Parses CSV text (header first) into rows of cells. `what` names the source in errors, which name
 * lines and columns by number and never quote the file (it may be one the user cannot read).
 */
function parseRows(parse: CsvParse, text: string, what: string, delimiter: string): string[][] {
  try {
    return parse(text, { delimiter, skip_empty_lines: true, trim: true, bom: true }) as string[][];
  } catch (e) {
    // csv-parse's messages quote the offending field; its code and line say the same without it.
    const { code, lines } = e as { code?: string; lines?: number };
    const why = code ? code.replace(/^CSV_/, "").toLowerCase().replace(/_/g, " ") : "unreadable";
    throw new KdError(`${what}: not valid CSV${lines ? ` at line ${lines}` : ""} (${why})`);
  }
}

/** Index of the label column in `header`, or -1 for none (see CsvOptions.labelColumn). */
function labelIndex(
  header: readonly string[],
  named: boolean,
  col: CsvOptions["labelColumn"],
  what: string,
): number {
  if (col === null) return -1;
  if (typeof col === "number") {
    ensure(
      Number.isInteger(col) && col >= 0 && col < header.length,
      () =>
        `${what}: label column ${col} is outside the ${header.length} columns (0 to ${header.length - 1})`,
    );
    return col;
  }
  if (col !== undefined) {
    ensure(
      named,
      () =>
        `${what}: no header row (the first row is numbers), so give the label column by index, not "${col}"`,
    );
    const i = header.indexOf(col);
    ensure(i >= 0, () => `${what}: no column named "${col}" for the labels in the header (line 1)`);
    return i;
  }
  const i = header.indexOf("label");
  return i >= 0 ? i : header.length - 1;
}

const isNumber = (cell: string) => cell !== "" && !Number.isNaN(Number(cell));

/**
 * Whether the first row is a header: it names a column whose next row holds a number (a name where
 * data has a number). So a file saved without a header stays whole, string labels included (UCI's
 * iris.data: `5.1,3.5,1.4,0.2,Iris-setosa`). A row of numbers is data, unless it counts three or more
 * columns 0, 1, 2, … or 1, 2, 3, … (pandas writes integer column names so).
 */
function hasHeader(first: readonly string[], next: readonly string[] | undefined): boolean {
  if (next === undefined) return !first.every(isNumber);
  if (first.some((cell, c) => cell !== "" && !isNumber(cell) && isNumber(next[c] ?? ""))) return true;
  if (first.length < 3 || !first.every(isNumber)) return false;
  const v = first.map(Number);
  return v.every((x, c) => x === c) || v.every((x, c) => x === c + 1);
}

/**
 * Labels from the label column's cells: numbers as class numbers, or, when no cell is a number,
 * names mapped to classes 0, 1, … in sorted order (`names`). A mix of both is refused: a stray
 * word among numbers is more likely a typo than a class.
 */
function csvLabels(
  cells: readonly string[],
  line: (i: number) => number,
  column: number,
  what: string,
): { values: number[]; names?: string[] } {
  const numeric = cells.map(isNumber);
  const empty = cells.indexOf("");
  ensure(empty < 0, () => `${what}: line ${line(empty)}, column ${column}: the label is empty`);
  if (numeric.every(Boolean)) return { values: cells.map(Number) };
  const num = numeric.indexOf(true);
  if (num >= 0) {
    const word = numeric.indexOf(false);
    throw new KdError(
      `${what}: line ${line(word)}, column ${column}: the label is not a number, but line ${line(num)}'s is (labels are all numbers or all names)`,
    );
  }
  const names = [...new Set(cells)].sort();
  const index = new Map(names.map((n, k) => [n, k]));
  return { values: cells.map((c) => index.get(c)!), names };
}

/**
 * Parses CSV text with `parse` into a dataset: features [N, columns - 1] as float32, labels as class numbers or
 * names (see csvLabels). The first row is the header unless it is all numbers (see hasHeader).
 */
export function csvDataset(parse: CsvParse, text: string, what: string, opts: CsvOptions = {}): Dataset {
  const rows = parseRows(parse, text, what, opts.delimiter ?? ",");
  ensure(rows.length >= 1, () => `${what}: no rows`);
  const named = hasHeader(rows[0]!, rows[1]);
  const header = named ? rows[0]! : rows[0]!.map((_, c) => `column ${c}`);
  const first = named ? 1 : 0;
  ensure(rows.length > first, () => `${what}: needs a header row and at least one data row`);
  const li = labelIndex(header, named, opts.labelColumn, what);
  const features = header.length - (li >= 0 ? 1 : 0);
  ensure(features >= 1, () => `${what}: no feature columns besides the label column (column ${li + 1})`);
  const n = rows.length - first;
  const x = new Float64Array(n * features);
  const labelCells: string[] = [];
  for (let r = first; r < rows.length; r++) {
    const row = rows[r]!;
    ensure(
      row.length === header.length,
      () =>
        `${what}: line ${r + 1} has ${row.length} fields, the ${named ? "header" : "first row"} ${header.length}`,
    );
    let k = (r - first) * features;
    for (let c = 0; c < row.length; c++) {
      const cell = row[c]!;
      if (c === li) {
        labelCells.push(cell);
        continue;
      }
      const v = cell === "" ? Number.NaN : Number(cell);
      // Number("NaN") and Number("Infinity") parse: let checkDataset name those; refuse the rest here.
      ensure(
        !Number.isNaN(v) || cell === "NaN" || cell === "nan",
        () => `${what}: line ${r + 1}, column ${c + 1}: not a number`,
      );
      x[k++] = v;
    }
  }
  const labels = li >= 0 ? csvLabels(labelCells, (i) => i + first + 1, li + 1, what) : undefined;
  const ds = datasetFromArrays(
    { dtype: "float64", dims: [n, features], data: x },
    labels?.values,
    what,
    opts,
  );
  return labels?.names ? { ...ds, classNames: labels.names } : ds;
}
