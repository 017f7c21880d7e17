/** Tabular data from CSV: a header row, numeric feature columns and one integer label column (csv-parse). */
import { basename } from "node:path";
import { parse } from "csv-parse/sync";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { type ArrayDatasetOptions, datasetFromArrays } from "./arrays.js";
import type { Dataset } from "./dataset.js";

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
function parseRows(text: string, what: string, delimiter: string): string[][] {
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
function labelIndex(header: readonly string[], col: CsvOptions["labelColumn"], what: string): number {
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
    const i = header.indexOf(col);
    ensure(i >= 0, () => `${what}: no column named "${col}" for the labels in the header (line 1)`);
    return i;
  }
  const i = header.indexOf("label");
  return i >= 0 ? i : header.length - 1;
}

/** Parses CSV text into a dataset: features [N, columns - 1] as float32, labels as integers. */
export function parseCsvDataset(text: string, what: string, opts: CsvOptions = {}): Dataset {
  const rows = parseRows(text, what, opts.delimiter ?? ",");
  ensure(rows.length >= 2, () => `${what}: needs a header row and at least one data row`);
  const header = rows[0]!;
  const li = labelIndex(header, opts.labelColumn, what);
  const features = header.length - (li >= 0 ? 1 : 0);
  ensure(features >= 1, () => `${what}: no feature columns besides the label column (column ${li + 1})`);
  const n = rows.length - 1;
  const x = new Float64Array(n * features);
  const y = li >= 0 ? new Float64Array(n) : undefined;
  for (let r = 1; r <= n; r++) {
    const row = rows[r]!;
    ensure(
      row.length === header.length,
      () => `${what}: line ${r + 1} has ${row.length} fields, the header ${header.length}`,
    );
    let k = (r - 1) * features;
    for (let c = 0; c < row.length; c++) {
      const cell = row[c]!;
      const v = cell === "" ? Number.NaN : Number(cell);
      // Number("NaN") and Number("Infinity") parse: let checkDataset name those; refuse the rest here.
      ensure(
        !Number.isNaN(v) || cell === "NaN" || cell === "nan",
        () => `${what}: line ${r + 1}, column ${c + 1}: not a number`,
      );
      if (c === li) y![r - 1] = v;
      else x[k++] = v;
    }
  }
  return datasetFromArrays({ dtype: "float64", dims: [n, features], data: x }, y, what, opts);
}

/** Loads a CSV file (see parseCsvDataset); a .tsv file is tab-separated. */
export function loadCsvDataset(path: string, opts: CsvOptions = {}): Dataset {
  const text = readInputFile(path, "CSV file").toString("utf8");
  const delimiter = opts.delimiter ?? (path.toLowerCase().endsWith(".tsv") ? "\t" : ",");
  return parseCsvDataset(text, basename(path), { ...opts, delimiter });
}
