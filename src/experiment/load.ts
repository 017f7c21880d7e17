/**
 * Reading a spec: YAML (or JSON) → profile overlay → `--set` overrides → run defaults → one zod
 * validation → cross-references checked. Every problem is one line naming the field.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { z } from "zod";
import { type AnalysisKind, analysisDef } from "../analyses/index.js";
import { shareRows } from "../data/sources.js";
import { ensure, KdError } from "../util/errors.js";
import { readInputFile } from "../util/files.js";
import { resolveInside } from "../util/paths.js";
import { checkRows } from "./rows.js";
import { runSchema, type Spec, specSchema } from "./schema.js";
import { checkKey, checkName, checkTree, MAX_SPEC_BYTES, parseSpecText } from "./untrusted.js";

export interface LoadedSpec {
  readonly spec: Spec;
  /** Relative paths in the spec (data files, the paper file) resolve against this folder. */
  readonly baseDir: string;
  readonly profile: string | null;
  /** The paper's numbers (`paper:` file), key → number, [lo, hi] or text. */
  readonly paper: Readonly<Record<string, unknown>>;
  /** Where the spec came from, for messages: its file's path, or "command line" for one built from flags. */
  readonly file: string;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === "object" && x !== null && !Array.isArray(x);

/** Deep merge: objects merge key by key, anything else replaces; `null` deletes a key. */
export function overlay(base: unknown, top: unknown): unknown {
  if (!isObj(base) || !isObj(top)) return top;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(top)) {
    if (v === null) delete out[k];
    else out[k] = overlay(base[k], v);
  }
  return out;
}

/**
 * Sets a dotted path in a plain object, creating objects on the way. A list on the way is entered
 * by an item's index (`objective.plus.0.weight`), never grown: an index past its end is refused.
 */
export function setPath(obj: Obj, path: string, value: unknown): void {
  const parts = path.split(".");
  ensure(
    parts.every((p) => p.length > 0),
    `bad field path "${path}"`,
  );
  // `__proto__.x` would set a field of every object in the process.
  for (const p of parts) checkKey(p, `field path "${path}"`);
  let cur: Obj | unknown[] = obj;
  for (const [i, p] of parts.entries()) {
    const key = Array.isArray(cur) ? listIndex(cur, p, parts.slice(0, i).join("."), path) : p;
    const c = cur as Obj;
    if (i === parts.length - 1) c[key] = value;
    else {
      if (!isObj(c[key]) && !Array.isArray(c[key])) c[key] = {};
      cur = c[key] as Obj | unknown[];
    }
  }
}

/** The index a path part names in a list, refused in one line unless it is one of the list's items. */
function listIndex(list: readonly unknown[], part: string, at: string, path: string): number {
  const i = /^(0|[1-9]\d*)$/.test(part) ? Number(part) : -1;
  ensure(
    i >= 0 && i < list.length,
    list.length === 0
      ? `field path "${path}": ${at} is an empty list; it has no item "${part}"`
      : `field path "${path}": ${at} is a list of ${list.length} item${list.length === 1 ? "" : "s"}; "${part}" is not one of its indices (0 to ${list.length - 1})`,
  );
  return i;
}

/**
 * One line for a zod issue, naming the field and, for unknown kinds, the known ones. An unknown
 * field goes first: a misspelt key usually also leaves the field it meant to fill missing.
 */
export function describeIssue(issues: readonly z.core.$ZodIssue[], where: string): string {
  const i = issues.find((x) => x.code === "unrecognized_keys") ?? issues[0]!;
  const path = i.path.map(String).join(".");
  const at = `${where}${path ? `: ${path}` : ""}`;
  if (i.code === "invalid_union" && "options" in i && Array.isArray((i as { options?: unknown[] }).options))
    return `${at}: unknown kind (known: ${(i as { options: unknown[] }).options.join(", ")})`;
  if (i.code === "unrecognized_keys") return `${at}: unknown field ${i.keys.map((k) => `"${k}"`).join(", ")}`;
  // Parsed with reportInput: an absent field has input undefined (YAML itself has no undefined).
  if (i.code === "invalid_type" && "input" in i && i.input === undefined)
    return `${at}: required field missing (expected ${i.expected})`;
  return `${at}: ${i.message}`;
}

/** Text only: invalid bytes would otherwise become names and messages that mean nothing. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

function readText(path: string, what: string): string {
  ensure(existsSync(path), `${what} ${path} does not exist`);
  try {
    return utf8.decode(readInputFile(path, what, MAX_SPEC_BYTES));
  } catch (e) {
    if (e instanceof KdError) throw e;
    throw new KdError(`${path}: not UTF-8 text`);
  }
}

/** A `path=value` override; the value is read as YAML, so numbers, lists and objects work. */
export function parseSet(text: string): [string, unknown] {
  const eq = text.indexOf("=");
  ensure(eq > 0, `override "${text}": expected field.path=value`);
  const where = `override ${text.slice(0, eq)}`;
  const value = parseSpecText(text.slice(eq + 1), where);
  checkTree(value, where);
  return [text.slice(0, eq).trim(), value];
}

export interface LoadOptions {
  readonly profile?: string | undefined;
  readonly set?: readonly string[] | undefined;
  /**
   * A spec saved beside finished results (`kd report`): its runs are done, so the checks that
   * guard what a run would train on and what its report would show (shared rows, rows that
   * resolve to nothing) are left out, and the report renders what the runs gave.
   */
  readonly saved?: boolean | undefined;
  /** The folder the spec's relative data paths resolve against (default: the working folder). */
  readonly baseDir?: string | undefined;
}

/** Validates a spec given as an object (from a file, or built from command-line flags). */
export function validateSpec(
  raw: unknown,
  where: string,
  o: LoadOptions = {},
): { spec: Spec; profile: string | null } {
  ensure(isObj(raw), `${where}: a spec is a mapping with data and runs`);
  checkTree(raw, where);
  let doc: Obj = { ...raw };
  const base = namesOf(doc);
  const profiles = doc.profiles;
  delete doc.profiles;
  let profile: string | null = null;
  if (o.profile !== undefined) {
    checkName(o.profile, `${where}: profile`);
    ensure(
      isObj(profiles) && Object.hasOwn(profiles, o.profile) && isObj(profiles[o.profile]),
      `${where}: no profile "${o.profile}"${isObj(profiles) ? ` (known: ${Object.keys(profiles).join(", ")})` : " (the spec has none)"}`,
    );
    doc = overlay(doc, profiles[o.profile]) as Obj;
    profile = o.profile;
  }
  for (const s of o.set ?? []) {
    const [path, value] = parseSet(s);
    setPath(doc, path, value);
  }
  // Run defaults: merged under every run, so a run states only what differs.
  const defaults = doc.defaults;
  delete doc.defaults;
  if (defaults !== undefined) {
    ensure(isObj(defaults), `${where}: defaults must be a mapping of run fields`);
    // Checked here: merged into the runs, a misspelt default would be reported as every run's.
    const unknown = Object.keys(defaults).filter((k) => !Object.hasOwn(runSchema.shape, k));
    ensure(
      unknown.length === 0,
      `${where}: defaults: unknown field ${unknown.map((k) => `"${k}"`).join(", ")}`,
    );
    ensure(isObj(doc.runs), `${where}: runs must be a mapping of run names to runs`);
    doc.runs = Object.fromEntries(Object.entries(doc.runs).map(([k, r]) => [k, overlay(defaults, r)]));
  }
  const parsed = specSchema.safeParse(doc, { reportInput: true });
  if (!parsed.success) throw new KdError(describeIssue(parsed.error.issues, where));
  // The spec's and its runs' names become folder and file names.
  checkName(parsed.data.name, `${where}: name:`);
  for (const r of Object.keys(parsed.data.runs)) checkName(r, `${where}: runs: the run name`);
  checkReferences(parsed.data, where);
  checkDerivations(parsed.data.data, where);
  if (o.saved) return { spec: parsed.data, profile };
  checkOverlaps(parsed.data, where, o.baseDir ?? process.cwd());
  const kept = namesOf(parsed.data);
  parsed.data.report.rows = checkRows(parsed.data, where, new Set([...base].filter((n) => !kept.has(n))));
  return { spec: parsed.data, profile };
}

/** `runs.<name>` and `analyses.<name>` of a spec document, to tell what a profile removed. */
function namesOf(doc: Obj): Set<string> {
  return new Set(
    (["runs", "analyses"] as const).flatMap((k) => {
      const v = doc[k];
      return isObj(v) ? Object.keys(v).map((n) => `${k}.${n}`) : [];
    }),
  );
}

/** Names that must exist: datasets of runs and analyses, teacher runs, runs in the report. */
function checkReferences(spec: Spec, where: string): void {
  const need = (kind: "dataset" | "run", name: string | undefined, field: string) => {
    if (name === undefined) return;
    const known = kind === "dataset" ? spec.data : spec.runs;
    ensure(
      Object.hasOwn(known, name),
      () => `${where}: ${field}: no ${kind} named "${name}" (known: ${Object.keys(known).join(", ")})`,
    );
  };
  for (const [k, d] of Object.entries(spec.data)) need("dataset", d.from, `data.${k}.from`);
  for (const [k, r] of Object.entries(spec.runs)) {
    need("dataset", r.train, `runs.${k}.train`);
    need("dataset", r.test, `runs.${k}.test`);
    need("dataset", r.val, `runs.${k}.val`);
    r.teachers?.forEach((t, i) => {
      if (typeof t === "string") need("run", t, `runs.${k}.teachers.${i}`);
    });
  }
  for (const [k, a] of Object.entries(spec.analyses)) {
    for (const r of analysisDef(a as { kind: AnalysisKind }).runs(a as never))
      need("run", r, `analyses.${k}`);
    for (const field of ["val", "test"] as const)
      if (field in a) need("dataset", (a as Record<string, string>)[field], `analyses.${k}.${field}`);
  }
  for (const r of [...spec.report.confusion, ...(spec.report.curves ?? [])]) need("run", r, "report");
}

/**
 * A run measured on rows it trains on: its val or test dataset, or an analysis's of it (a bias
 * shift searched on val, scored on test), can share rows with its train dataset.
 */
function checkOverlaps(spec: Spec, where: string, baseDir: string): void {
  const check = (field: string, run: string, d: string | undefined, at: string) => {
    const train = spec.runs[run]!.train;
    ensure(
      d === undefined || !shareRows(spec.data, train, d, baseDir),
      `${where}: ${at}: its ${field} dataset "${d}" shares rows with ${at === `runs.${run}` ? "its" : `run ${run}'s`} train dataset "${train}" (split one source with a holdout's train and val parts)`,
    );
  };
  for (const [k, r] of Object.entries(spec.runs))
    for (const field of ["val", "test"] as const) check(field, k, r[field], `runs.${k}`);
  for (const [k, a] of Object.entries(spec.analyses))
    for (const run of analysisDef(a as { kind: AnalysisKind }).runs(a as never))
      for (const field of ["val", "test"] as const)
        if (field in a) check(field, run, (a as Record<string, string>)[field], `analyses.${k}`);
}

/** A chain of datasets each derived `from` the next: real specs use a few; the planner recurses along it. */
export const MAX_DERIVED_DEPTH = 100;

/**
 * Refuses a dataset derived through more than MAX_DERIVED_DEPTH others, in one pass (each chain's
 * length is remembered). Cycles are left to the planner, which names them.
 */
export function checkDerivations(data: Readonly<Record<string, { from?: string }>>, where: string): void {
  const depth = new Map<string, number>();
  for (const start of Object.keys(data)) {
    const chain: string[] = [];
    const onChain = new Set<string>();
    let cur: string | undefined = start;
    while (cur !== undefined && Object.hasOwn(data, cur) && !depth.has(cur) && !onChain.has(cur)) {
      chain.push(cur);
      onChain.add(cur);
      cur = data[cur]!.from;
    }
    let d = cur !== undefined && depth.has(cur) ? depth.get(cur)! : 0;
    for (const name of chain.reverse()) {
      d++;
      ensure(
        d <= MAX_DERIVED_DEPTH,
        () => `${where}: data.${name}: derived through more than ${MAX_DERIVED_DEPTH} datasets`,
      );
      depth.set(name, d);
    }
  }
}

/** Reads and validates a spec file, with its paper numbers. */
export function loadSpec(path: string, o: LoadOptions = {}): LoadedSpec {
  const text = readText(path, "spec");
  const baseDir = dirname(resolve(path));
  const { spec, profile } = validateSpec(parseSpecText(text, path), path, { ...o, baseDir });
  let paper: Record<string, unknown> = {};
  if (spec.paper) {
    // A file beside the spec, as the schema says: not /proc/self/status or ../../secrets.
    const p = resolveInside(baseDir, spec.paper, `${path}: paper`);
    const raw = parseSpecText(readText(p, "paper numbers"), p);
    checkTree(raw, p);
    ensure(isObj(raw), `${p}: expected a mapping of key → number`);
    paper = raw;
  }
  return { spec, baseDir, profile, paper, file: path };
}
