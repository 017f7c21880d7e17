/** Hostile spec files: paths out of the output folder, prototype keys, devices and pipes, oversized plans and parses. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseDocument } from "yaml";
import { checkDerivations, loadSpec, validateSpec } from "../../src/experiment/load.js";
import { executeSpec, planWithReuse, runPaths } from "../../src/runner/execute.js";
import { KdError } from "../../src/util/errors.js";
import { kd, kdCapped } from "../helpers/cli.js";
import { type SpecDoc, tinySpec, writeSpec } from "../helpers/specs.js";

// Spied on, not replaced: the tests check the parser is asked for no quadratic duplicate-key check.
vi.mock("yaml", async (importOriginal) => {
  const yaml = await importOriginal<typeof import("yaml")>();
  return { ...yaml, parseDocument: vi.fn(yaml.parseDocument) };
});

const tmp = mkdtempSync(join(tmpdir(), "kd-spec-harden-"));

/** One run only (the student): enough to plan, cheap to execute. */
function oneRun(change: (s: SpecDoc) => void = () => {}): SpecDoc {
  const s = tinySpec() as SpecDoc;
  s.runs = { student: s.runs.student };
  change(s);
  return s;
}

/** A spec with one file teacher at `path`. */
function fileTeacher(path: string): SpecDoc {
  return oneRun((s) => {
    s.runs.student.teachers = [{ path }];
    s.runs.student.objective = { kind: "kd" };
  });
}

const loaded = (s: SpecDoc, file: string) => loadSpec(writeSpec(tmp, s, file));

describe("a spec writes only inside its output folder", () => {
  it("refuses spec names that are not plain names (separators, .., control characters)", () => {
    for (const name of ["../../../../outside/x", "a/b", "..", ".hidden", "red\u001b[31m", "a\nb", "x\ufffd"])
      expect(() =>
        validateSpec(
          oneRun((s) => (s.name = name)),
          "spec.yaml",
        ),
      ).toThrow(`spec.yaml: name: ${JSON.stringify(name)} is not a usable name`);
    expect(() =>
      validateSpec(
        oneRun((s) => (s.runs = { "../r": s.runs.student })),
        "spec.yaml",
      ),
    ).toThrow('spec.yaml: runs: the run name "../r" is not a usable name');
    expect(() =>
      validateSpec(
        oneRun((s) => (s.name = "hinton2015-mnist_v1.2")),
        "x",
      ),
    ).not.toThrow();
  });

  it("refuses a spec file that is not UTF-8 text", () => {
    const f = join(tmp, "latin1.yaml");
    writeFileSync(f, Buffer.concat([Buffer.from("name: caf"), Buffer.from([0xe9]), Buffer.from("\n")]));
    expect(() => loadSpec(f)).toThrow(`${f}: not UTF-8 text`);
  });

  it("refuses a run's absolute out and leaves the existing file there alone", async () => {
    const victim = join(tmp, "victim.txt");
    writeFileSync(victim, "keep me");
    const l = loaded(
      oneRun((s) => (s.runs.student.out = victim)),
      "abs-out.yaml",
    );
    await expect(executeSpec(l, { outDir: join(tmp, "abs-out") })).rejects.toThrow(
      `runs.student.out: ${JSON.stringify(victim)} leaves the output folder`,
    );
    expect(readFileSync(victim, "utf8")).toBe("keep me");
  });

  it("refuses log and checkpoint paths that leave the folder, also from a grid", () => {
    const out = join(tmp, "esc");
    const cases: [(s: SpecDoc) => void, RegExp][] = [
      [
        (s) => (s.runs.student.log = "../x.jsonl"),
        /runs\.student\.log: "\.\.\/x\.jsonl" leaves the output folder/,
      ],
      [
        (s) => (s.runs.student.checkpoint = "/tmp/x.ckpt"),
        /runs\.student\.checkpoint: "\/tmp\/x\.ckpt" leaves/,
      ],
      [
        (s) => (s.runs.student.grid = { out: ["a.onnx", "/etc/x.onnx"] }),
        /runs\.student\.out: "\/etc\/x\.onnx"/,
      ],
    ];
    for (const [change, message] of cases)
      expect(() => planWithReuse(loaded(oneRun(change), "esc.yaml"), out)).toThrow(message);
  });

  it("resolves a run's own relative paths against the output folder, not the current one", () => {
    const out = join(tmp, "rel");
    const l = loaded(
      oneRun((s) => {
        s.runs.student.out = "sub/student.onnx";
        s.runs.student.log = "student.jsonl";
      }),
      "rel.yaml",
    );
    const p = runPaths(out, planWithReuse(l, out).plan[0]!);
    expect(p.model).toBe(join(out, "sub", "student.onnx"));
    expect(p.log).toBe(join(out, "student.jsonl"));
    expect(p.recordedModel).toBe(join("sub", "student.onnx"));
  });

  it("paper: only a file beside the spec", () => {
    expect(() =>
      loaded(
        oneRun((s) => (s.paper = "/proc/self/status")),
        "paper-proc.yaml",
      ),
    ).toThrow(/paper: refuses the absolute path "\/proc\/self\/status"/);
    expect(() =>
      loaded(
        oneRun((s) => (s.paper = "../paper.yaml")),
        "paper-up.yaml",
      ),
    ).toThrow(/paper: refuses the path "\.\.\/paper\.yaml", which leaves its folder/);
  });

  it("kd run and kd report print the spec's row labels with terminal escapes shown, not obeyed", () => {
    const s = {
      name: "esc",
      data: {},
      runs: {},
      // A row that resolves (a spec's rows must): its label carries the escape.
      report: { rows: [{ label: "\u001b[31mred", value: "machine.cpus" }] },
    };
    const out = join(tmp, "esc-out");
    for (const r of [kd(["run", writeSpec(tmp, s, "esc.yaml"), "--out", out]), kd(["report", out])]) {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("\\x1b[31mred");
      expect(r.stdout).not.toContain("\u001b");
    }
  });

  it("kd run --out '' is refused, not the current folder; --store '' is refused, not ignored", () => {
    const r = kd(["run", writeSpec(tmp, oneRun(), "empty-out.yaml"), "--out", "", "--dry-run"]);
    expect(r.stderr.trim().split("\n")).toEqual(["kd: --out: empty path"]);
    expect(r.code).toBe(1);
    const out = join(tmp, "empty-store");
    const s = kd([
      "run",
      join(tmp, "empty-out.yaml"),
      "--out",
      out,
      "--redis",
      "redis://127.0.0.1:1",
      "--store",
      "",
    ]);
    expect(s.stderr.trim().split("\n")).toEqual(["kd: --store: empty path"]);
    expect(s.code).toBe(1);
  });
});

describe("keys that reach a prototype are refused everywhere", () => {
  it("--set through __proto__ (at the top or inside a run)", () => {
    const cases = [
      ["__proto__.epochs", "__proto__"],
      ["runs.student.__proto__.epochs", "__proto__"],
      ["runs.constructor.x", "constructor"],
    ];
    for (const [path, key] of cases)
      expect(() => validateSpec(oneRun(), "s", { set: [`${path}=1`] })).toThrow(
        new KdError(`field path "${path}": the key "${key}" is not allowed`),
      );
    expect(({} as Record<string, unknown>).epochs).toBeUndefined();
  });

  it("grid fields through __proto__ or constructor", () => {
    const cases = [
      ["__proto__.epochs", "__proto__"],
      ["objective.constructor.x", "constructor"],
    ];
    for (const [path, key] of cases) {
      const s = oneRun((s) => (s.runs.student.grid = { [path!]: [1] }));
      expect(() => planWithReuse(loaded(s, "proto-grid.yaml"), join(tmp, "pg"))).toThrow(
        new KdError(`runs.student.grid: ${path}: the key "${key}" is not allowed`),
      );
    }
    expect(({} as Record<string, unknown>).epochs).toBeUndefined();
  });

  it("--profile __proto__, and __proto__ keys in a file or an override's value", () => {
    const s = { ...oneRun(), profiles: { fast: { defaults: { epochs: 1 } } } };
    expect(() => validateSpec(s, "s", { profile: "__proto__" })).toThrow(
      's: profile "__proto__" is not a usable name',
    );
    expect(() => validateSpec(s, "s", { profile: "toString" })).toThrow('s: no profile "toString"');
    const f = join(tmp, "proto.yaml");
    writeFileSync(
      f,
      readFileSync(writeSpec(tmp, oneRun(), "proto-base.yaml"), "utf8").replace(
        "  student:\n",
        "  student:\n    __proto__:\n      epochs: 1\n",
      ),
    );
    expect(() => loadSpec(f)).toThrow(`${f}: runs.student: the key "__proto__" is not allowed`);
    expect(() =>
      validateSpec(oneRun(), "s", { set: ['runs.student.metadata={"__proto__": {"a": "b"}}'] }),
    ).toThrow('override runs.student.metadata: the key "__proto__" is not allowed');
  });

  it("kd run --set __proto__.epochs=1: one line, exit 1, not an internal error", () => {
    const r = kd([
      "run",
      writeSpec(tmp, oneRun(), "proto-cli.yaml"),
      "--set",
      "__proto__.epochs=1",
      "--dry-run",
    ]);
    expect(r.stderr.trim().split("\n")).toEqual([
      'kd: field path "__proto__.epochs": the key "__proto__" is not allowed',
    ]);
    expect(r.code).toBe(1);
  });
});

describe("teacher files, results.json and spec.json are read only when regular, even for --dry-run", () => {
  it("/dev/zero and /dev/urandom: one line, no memory runaway", () => {
    for (const dev of ["/dev/zero", "/dev/urandom"]) {
      const r = kdCapped(["run", writeSpec(tmp, fileTeacher(dev), "dev.yaml"), "--dry-run"]);
      expect(r.stderr.trim().split("\n")).toEqual([
        `kd: ${dev}: not a regular file (a device or pipe), not a teacher model`,
      ]);
      expect(r.code).toBe(1);
    }
  });

  it("a FIFO: one line, no hang", () => {
    const fifo = join(tmp, "teacher.fifo");
    execFileSync("mkfifo", [fifo]);
    const r = kdCapped(["run", writeSpec(tmp, fileTeacher(fifo), "fifo.yaml"), "--dry-run"], 20_000);
    expect(r.timedOut).toBe(false);
    expect(r.stderr.trim().split("\n")).toEqual([
      `kd: ${fifo}: not a regular file (a device or pipe), not a teacher model`,
    ]);
  });

  it("a FIFO as the output folder's results.json or spec.json: one line, no hang", () => {
    const out = join(tmp, "fifo-out");
    mkdirSync(out);
    execFileSync("mkfifo", [join(out, "results.json"), join(out, "spec.json")]);
    const r = kdCapped(["run", writeSpec(tmp, oneRun(), "fifo-out.yaml"), "--out", out, "--dry-run"], 20_000);
    expect(r.stderr.trim().split("\n")).toEqual([
      `kd: ${join(out, "results.json")}: not a regular file (a device or pipe), not a results file`,
    ]);
    // kd report reads spec.json first.
    const rep = kdCapped(["report", out], 20_000);
    expect(rep.stderr.trim().split("\n")).toEqual([
      `kd: ${join(out, "spec.json")}: not a regular file (a device or pipe), not a spec file`,
    ]);
  });
});

describe("plans and parses have stated limits", () => {
  it("a 10⁶-point grid (six axes of ten) is refused before planning, in a child with a memory cap", () => {
    const axes = ["lr", "epochs", "batchSize", "jitter", "seed", "momentum"];
    const grid = oneRun((s) => {
      s.runs.student.grid = Object.fromEntries(
        axes.map((a) => [a, Array.from({ length: 10 }, (_, i) => i + 1)]),
      );
    });
    const g = kdCapped(["run", writeSpec(tmp, grid, "grid.yaml"), "--dry-run"]);
    expect(g.stderr.trim().split("\n")).toEqual([
      "kd: runs.student: 1,000,000 grid points × 1 seed bring the plan to 1,000,000 runs, more than the 10,000 a spec may plan",
    ]);
    expect(g.code).toBe(1);
  });

  it("10,001 seeds over two runs are refused before planning", () => {
    const seeds = oneRun((s) => {
      s.runs.student.seeds = Array.from({ length: 10_000 }, (_, i) => i);
      s.runs.other = { ...s.runs.student, seeds: undefined };
    });
    expect(() => planWithReuse(loaded(seeds, "seeds.yaml"), join(tmp, "seeds"))).toThrow(
      new KdError(
        "runs.other: 1 grid point × 1 seed bring the plan to 10,001 runs, more than the 10,000 a spec may plan",
      ),
    );
  });

  it("a grid over one 1000-value list and its alias makes 10⁶ points: refused", () => {
    const f = join(tmp, "alias-grid.yaml");
    const list = Array.from({ length: 1000 }, (_, i) => (i + 1) / 1000).join(", ");
    writeFileSync(
      f,
      readFileSync(writeSpec(tmp, oneRun(), "alias-base.yaml"), "utf8").replace(
        "  student:\n",
        `  student:\n    grid: { lr: &v [${list}], momentum: *v }\n`,
      ),
    );
    const r = kdCapped(["run", f, "--dry-run"]);
    expect(r.stderr.trim()).toMatch(/1,000,000 grid points × 1 seed bring the plan to 1,000,000 runs/);
  });

  it("a grid value with a recursive alias: one line naming where", () => {
    const f = join(tmp, "recursive.yaml");
    writeFileSync(
      f,
      readFileSync(writeSpec(tmp, oneRun(), "rec-base.yaml"), "utf8").replace(
        "  student:\n",
        "  student:\n    grid:\n      lr: &a [*a]\n",
      ),
    );
    expect(() => loadSpec(f)).toThrow(`${f}: runs.student.grid.lr.0: a YAML alias that contains itself`);
  });

  it("deep nesting: one line saying so", () => {
    const deep = (n: number) => {
      const f = join(tmp, `deep${n}.yaml`);
      writeFileSync(f, `name: deep\nnotes: ${"[".repeat(n)}${"]".repeat(n)}\n`);
      return f;
    };
    expect(() => loadSpec(deep(100))).toThrow(/deep100\.yaml: notes(\.0)+: nested more than 64 levels deep$/);
    expect(() => loadSpec(deep(5000))).toThrow(/deep5000\.yaml: not valid YAML\/JSON \(nested too deeply\)$/);
  });

  it("parses a mapping of 40,000 keys without the parser's quadratic key check; refuses spec files over 1 MB", () => {
    const notes = Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`k${i}`, "v"]));
    const f = writeSpec(
      tmp,
      oneRun((s) => (s.notes = notes)),
      "notes.yaml",
    );
    vi.mocked(parseDocument).mockClear();
    expect(Object.keys(loadSpec(f).spec.notes ?? {})).toHaveLength(40_000);
    // The yaml package's uniqueKeys compares each key with every earlier one (800 million
    // comparisons here); kd refuses duplicates itself in one pass, checked just below.
    expect(vi.mocked(parseDocument)).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ uniqueKeys: false }),
    );
    const dup = join(tmp, "dup.yaml");
    writeFileSync(dup, `${readFileSync(f, "utf8")}name: again\n`);
    expect(() => loadSpec(dup)).toThrow(
      /not valid YAML\/JSON \(the key "name" appears twice in one mapping \(line \d+\)\)/,
    );
    const big = join(tmp, "big.yaml");
    writeFileSync(big, `${readFileSync(f, "utf8")}${"#".repeat(1_000_000)}\n`);
    expect(() => loadSpec(big)).toThrow(/more than the 1\.00 MB a spec may have/);
  });

  it("20,000 datasets resolve, each derivation looked up once; a chain deeper than 100 is refused", () => {
    const s = oneRun();
    for (let i = 0; i < 20_000; i++) s.data[`d${i}`] = { from: "all" };
    expect(() => validateSpec(s, "wide")).not.toThrow();
    // 200 chains of the most allowed depth (100): walking each from every start would read
    // about a million entries; remembering each chain's depth reads each entry about once.
    const chains: Record<string, { from?: string }> = {};
    for (let c = 0; c < 200; c++)
      for (let i = 0; i < 100; i++) chains[`c${c}_${i}`] = i === 0 ? {} : { from: `c${c}_${i - 1}` };
    let reads = 0;
    const counted = new Proxy(chains, {
      get: (t, k) => {
        reads++;
        return Reflect.get(t, k);
      },
    });
    expect(() => checkDerivations(counted, "chains")).not.toThrow();
    expect(reads).toBeGreaterThanOrEqual(20_000);
    expect(reads).toBeLessThanOrEqual(2 * 20_000);
    const c = oneRun();
    for (let i = 0; i < 1000; i++) c.data[`c${i}`] = { from: i === 0 ? "all" : `c${i - 1}` };
    expect(() => validateSpec(c, "chain")).toThrow("chain: data.c99: derived through more than 100 datasets");
  });
});
