/** Property tests: mutated IDX and NPZ bytes and arbitrary flag strings end as a KdError or a valid result. */
import { InvalidArgumentError } from "commander";
import fc from "fast-check";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { classList, intList, num } from "../../src/cli/options.js";
import { fromIdx } from "../../src/data/dataset.js";
import { parseIdx } from "../../src/data/idx.js";
import { parseNpz } from "../../src/data/npy.js";
import { KdError } from "../../src/util/errors.js";
import { idxBytes } from "./idx-bytes.js";
import { npyBytes } from "./npy-bytes.js";

const seeds = [
  idxBytes("uint8", [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 255]),
  idxBytes("float32", [2, 3], [0.5, -1, 2, 3, 4, 1e-3]),
  idxBytes("int16", [4], [0, 1, 2, 300]),
  idxBytes("float64", [2, 1], [1, 2]),
];
const labelSeed = idxBytes("uint8", [3], [0, 1, 2]);

/** A seed file with some bytes overwritten, then cut or extended. */
const mutated = fc
  .record({
    seed: fc.constantFrom(...seeds),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.option(fc.nat({ max: 80 })),
    extra: fc.uint8Array({ maxLength: 8 }),
  })
  .map(({ seed, edits, cut, extra }) => {
    const b = new Uint8Array([...seed, ...extra]);
    for (const [i, v] of edits) b[i % b.length] = v;
    return cut === null ? b : b.slice(0, cut);
  });

describe("IDX parser under mutation", () => {
  it("gives a KdError or a dataset no larger than the file, never another error", () => {
    fc.assert(
      fc.property(mutated, fc.boolean(), (bytes, withLabels) => {
        try {
          const im = parseIdx(bytes, "fuzz");
          const ds = fromIdx(im, withLabels ? parseIdx(labelSeed, "lb") : undefined, "fuzz");
          expect(ds.n).toBeGreaterThan(0);
          expect(ds.features).toBeGreaterThan(0);
          expect(ds.x.length).toBe(ds.n * ds.features);
          expect(ds.x.length).toBeLessThanOrEqual(bytes.length);
          expect(ds.x.every(Number.isFinite)).toBe(true);
        } catch (e) {
          if (!(e instanceof KdError)) throw e;
          expect(e.message.split("\n")).toHaveLength(1);
        }
      }),
      { numRuns: 600 },
    );
  });
});

describe("NPZ reader under mutation", () => {
  const x = npyBytes("uint8", [3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const y = npyBytes("int64", [3], [0, 1, 2]);
  const npzSeeds = [0, 6].map((level) => zipSync({ "x.npy": x, "y.npy": y }, { level: level as 0 | 6 }));
  it("gives a KdError or arrays no larger than the file, never another error", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...npzSeeds),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 }),
        (seed, edits) => {
          const b = seed.slice();
          for (const [i, v] of edits) b[i % b.length] = v;
          try {
            for (const a of parseNpz(b, "fuzz").values())
              expect(a.data.byteLength).toBeLessThanOrEqual(b.length);
          } catch (e) {
            if (!(e instanceof KdError)) throw e;
            expect(e.message.split("\n")).toHaveLength(1);
          }
        },
      ),
      { numRuns: 600 },
    );
  });
});

/** Runs a flag parser: its value, or "refused" when it throws commander's one-line error. */
function parse<T>(p: (v: string) => T, v: string): T | "refused" {
  try {
    return p(v);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    expect(e.message).not.toBe("");
    return "refused";
  }
}

describe("flag parsers", () => {
  const flagText = fc.oneof(
    fc.string({ maxLength: 12 }),
    fc.stringMatching(/^[-+ 0-9.,eExXbBoO]{0,10}$/),
    fc.integer().map(String),
    fc.double().map(String),
  );
  it("whole numbers: plain decimal digits only, within bounds", () => {
    const p = num({ int: true, min: 1, max: 1000 });
    fc.assert(
      fc.property(flagText, (v) => {
        const r = parse(p, v);
        if (r !== "refused") {
          expect(v.trim()).toMatch(/^-?\d+$/);
          expect(Number.isInteger(r) && r >= 1 && r <= 1000).toBe(true);
          expect(r).toBe(Number(v.trim()));
        }
      }),
      { numRuns: 500 },
    );
    for (const v of ["0x10", "0b11", "0o7", "1e3", "2.0", "", " ", "Infinity", "+5"])
      expect(parse(p, v)).toBe("refused");
    expect(parse(p, "16")).toBe(16);
  });
  it("real numbers: decimal with an optional exponent, finite", () => {
    const p = num({ min: 0, minExclusive: true, max: 100 });
    fc.assert(
      fc.property(flagText, (v) => {
        const r = parse(p, v);
        if (r !== "refused") {
          expect(Number.isFinite(r) && r > 0 && r <= 100).toBe(true);
          expect(v).not.toMatch(/[xXbBoO]/);
        }
      }),
      { numRuns: 500 },
    );
    expect(parse(p, "1e-4")).toBe(1e-4);
    expect(parse(p, ".5")).toBe(0.5);
    for (const v of ["0x1", "NaN", "Infinity", "1e", "--1", "1.2.3"]) expect(parse(p, v)).toBe("refused");
  });
  it("class lists: no empty items, no repeats, each a class number", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          flagText,
          fc.array(fc.nat({ max: 20 }), { maxLength: 5 }).map((a) => a.join(",")),
        ),
        (v) => {
          const r = parse(classList, v);
          if (r !== "refused") {
            expect(r.length).toBeGreaterThan(0);
            expect(new Set(r).size).toBe(r.length);
            expect(v.split(",").map((s) => Number(s.trim()))).toEqual(r);
          }
        },
      ),
      { numRuns: 500 },
    );
    for (const v of ["", "3,", ",3", "3,,4", "a", "-1", "3,3", "1.5", "0x3"])
      expect(parse(classList, v)).toBe("refused");
    expect(parse(classList, "7, 8")).toEqual([7, 8]);
  });
  it("integer lists (bench --threads) refuse words with a message", () => {
    const p = intList({ min: 1, max: 256 });
    expect(parse(p, "1,2")).toEqual([1, 2]);
    expect(() => p("abc")).toThrow(/"abc": expected a whole number/);
    for (const v of ["", "1,", "0", "1,abc"]) expect(parse(p, v)).toBe("refused");
  });
});
