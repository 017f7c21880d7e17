/** Untrusted text stays out of messages and the terminal: JSON errors, saved specs, class names, notes. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { readResults } from "../../src/analyses/results.js";
import { progressPrinter } from "../../src/cli/progress.js";
import { META, readClassNames } from "../../src/onnx/metadata.js";
import { createModel } from "../../src/onnx/proto.js";
import { unknownTensor } from "../../src/util/names.js";
import { kd } from "../helpers/cli.js";
import { kdMessage } from "../helpers/errors.js";
import { writeForeignConvNet } from "../helpers/onnx-files.js";

const tmp = mkdtempSync(join(tmpdir(), "kd-review-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());
const SECRET = "SECRET-TOKEN-0123456789";

describe("files that are not what they claim", () => {
  it("a results.json that is not JSON is named, its text is not quoted", () => {
    const p = join(tmp, "results.json");
    writeFileSync(p, `${SECRET}\n`);
    const msg = kdMessage(() => readResults(p));
    expect(msg).toBe(`${p} is not valid JSON`);
  });

  it("kd report on a spec.json that is not JSON, or is JSON but not an object: one line, no internal error", () => {
    for (const [body, why] of [
      [`${SECRET}`, /spec\.json is not valid JSON$/],
      ["null", /spec\.json is not a saved spec/],
      ['{ "spec": {}, "paper": 5 }', /spec\.json is not a saved spec/],
    ] as const) {
      const dir = join(tmp, `report-${why.source.length}-${body.length}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "spec.json"), body);
      const r = kd(["report", dir]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(why);
      expect(r.stderr).not.toContain(SECRET);
    }
  });

  it("class names recorded twice in a model are refused, not silently merged", () => {
    const m = createModel({ metadataProps: [{ key: META.classes, value: JSON.stringify(["cat", "cat"]) }] });
    expect(kdMessage(() => readClassNames(m, "m.onnx", 2))).toMatch(/class names must be distinct/);
  });
});

describe("the terminal", () => {
  it("a note or a failed run quoting a file's text shows its control characters, not obeys them", () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      lines.push(String(s));
      return true;
    });
    const p = progressPrinter({ bar: false });
    const run = { id: "student", point: {}, spec: { epochs: 2 } } as never;
    p.event({ kind: "note", message: 'class "\u001b]0;x\u0007" has no examples' });
    p.event({ kind: "failed", index: 1, total: 2, run, message: 'label "\u001b[31m" unknown' });
    const text = lines.join("");
    expect(text).not.toContain("\u001b");
    expect(text).toContain("\\x1b]0;x\\x07");
  });

  it("kd summary --tensors on a model declaring a batch of 10⁸ refuses in one line before allocating", () => {
    const path = join(tmp, "huge-batch.onnx");
    writeForeignConvNet(path, 100_000_000);
    const r = kd(["summary", "--tensors", path]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/a batch of 100000000 zero examples/);
  });

  it("a wrong tensor name beside one of a million characters still gets its one line", () => {
    const huge = "t".repeat(1_000_000);
    const e = unknownTensor("layer3.relu", ["logits", huge], "teacher.onnx");
    expect(e.message).toMatch(/^no tensor "layer3\.relu" in teacher\.onnx \(closest: /);
  });
});
