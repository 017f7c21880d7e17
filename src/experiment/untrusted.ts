/** Spec documents are untrusted: linear-time YAML parsing, and checks on keys, aliases, nesting and names. */
import { isScalar, LineCounter, parseDocument, visit } from "yaml";
import { KdError } from "../util/errors.js";

/** Spec and paper files are small hand-written text (the shipped ones are a few kB); anything larger is not one. */
export const MAX_SPEC_BYTES = 1_000_000;

/** YAML aliases expanded per document: enough for shared settings, not for an exponential "billion laughs". */
export const MAX_ALIAS_COUNT = 1000;

/** How deeply a spec's mappings and lists may nest: real specs use under 10 levels; the checks recurse. */
export const MAX_SPEC_DEPTH = 64;

/** Keys that would reach an object's prototype when set on a plain object: refused wherever they appear. */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Names that become parts of file paths (the spec's, its runs', a profile's): letters and digits,
 * then also ".", "_" and "-" — no separators, no "..", no control characters or terminal escapes.
 */
const SAFE_NAME = /^[\p{L}\p{N}][\p{L}\p{N}._-]{0,99}$/u;

/** Refuses a name that is not SAFE_NAME, e.g. `spec.yaml: runs: the run name "../x" ...`. */
export function checkName(name: string, what: string): void {
  if (!SAFE_NAME.test(name) || name.includes(".."))
    throw new KdError(
      `${what} ${JSON.stringify(name)} is not a usable name (up to 100 letters, digits, ".", "_" or "-", starting with a letter or digit, no "..")`,
    );
}

/** Refuses a key that would reach an object's prototype (`__proto__`, `constructor`, `prototype`). */
export function checkKey(key: string, where: string): void {
  if (FORBIDDEN_KEYS.has(key)) throw new KdError(`${where}: the key "${key}" is not allowed`);
}

/**
 * Parses YAML (or JSON) text. Duplicate keys are refused here in one pass: the yaml package's own
 * `uniqueKeys` check compares each key with every earlier one, quadratic in a mapping's size.
 */
export function parseSpecText(text: string, where: string): unknown {
  const bad = (why: string) =>
    new KdError(
      // The parser recurses: a stack overflow is its way of saying so.
      `${where}: not valid YAML/JSON (${/call stack/.test(why) ? "nested too deeply" : why.split("\n")[0]})`,
    );
  const lines = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { uniqueKeys: false, merge: true, lineCounter: lines });
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (doc.errors.length > 0) throw bad(doc.errors[0]!.message);
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const k = String(key.value);
        if (seen.has(k)) {
          const at = key.range ? lines.linePos(key.range[0]) : undefined;
          throw bad(
            `the key ${JSON.stringify(k)} appears twice in one mapping${at ? ` (line ${at.line})` : ""}`,
          );
        }
        seen.add(k);
      }
    },
  });
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw bad((e as Error).message);
  }
}

/**
 * Walks a parsed document once and refuses what later steps cannot take: forbidden keys, an
 * alias that contains itself (a cycle, which JSON and the planner cannot handle) and nesting past
 * MAX_SPEC_DEPTH. Shared (aliased) parts are walked once.
 */
export function checkTree(root: unknown, where: string): void {
  const done = new Set<object>();
  const open = new Set<object>();
  const walk = (x: unknown, path: readonly string[]): void => {
    if (typeof x !== "object" || x === null || done.has(x)) return;
    const at = () => `${where}${path.length ? `: ${path.join(".")}` : ""}`;
    if (open.has(x)) throw new KdError(`${at()}: a YAML alias that contains itself`);
    if (path.length >= MAX_SPEC_DEPTH)
      throw new KdError(`${at()}: nested more than ${MAX_SPEC_DEPTH} levels deep`);
    open.add(x);
    for (const [k, v] of Object.entries(x)) {
      checkKey(k, at());
      walk(v, [...path, k]);
    }
    open.delete(x);
    done.add(x);
  };
  walk(root, []);
}
