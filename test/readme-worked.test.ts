/**
 * The README's worked example, run line by line as written: a foreign teacher (channel-first input,
 * its own input and output names, no kd metadata: what torch.onnx.export writes), an image folder,
 * a distilled student with the pixel scale baked in, its int8 copy and a prediction.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import { afterAll, describe, expect, it } from "vitest";
import { loadMnist } from "../src/data/dataset.js";
import { readPreprocessing } from "../src/deploy/preprocess.js";
import { decodeModel, encodeModel } from "../src/onnx/proto.js";
import { kd } from "./helpers/cli.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "src", "cli", "bin.ts");
// tsx by absolute URL: `--import tsx` would resolve from the working folder.
const tsx = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const readme = readFileSync(join(root, "README.md"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "kd-worked-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The commands of the sh block after the worked-example marker, continuation lines joined. */
function workedCommands(): string[][] {
  const at = readme.indexOf("<!-- worked-example:");
  expect(at, "the README has the worked example").toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))![1]!;
  return block
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("npx kd "))
    .map((l) => l.slice("npx kd ".length).split(/\s+/));
}

/** MNIST images [from, to) of a split as 8-bit grayscale PNGs in one subfolder per class. */
function writeFolder(split: "train" | "test", from: number, to: number, out: string): void {
  const ds = loadMnist(split);
  for (let i = from; i < to; i++) {
    const png = new PNG({ width: 28, height: 28 });
    for (let q = 0; q < 784; q++) {
      png.data.fill(Math.round(ds.x[i * 784 + q]! * 255), 4 * q, 4 * q + 3);
      png.data[4 * q + 3] = 255;
    }
    mkdirSync(join(out, String(ds.y![i])), { recursive: true });
    writeFileSync(join(out, String(ds.y![i]), `${i}.png`), PNG.sync.write(png));
  }
}

/**
 * A stand-in for torch.onnx.export's file: a kd convnet trained on the folder, its input renamed
 * "pixels" and its output "scores", and kd's metadata dropped (a PyTorch model records none and
 * takes values in [0, 1], as torchvision's ToTensor gives them).
 */
function foreignTeacher(path: string): void {
  const kdPath = join(dir, "kd-teacher.onnx");
  const t = kd([
    "train",
    "--train",
    join(dir, "digits", "train"),
    "--test",
    join(dir, "digits", "test"),
    "--arch",
    "cnn:8,16",
    "--epochs",
    "8",
    "--lr",
    "0.05",
    "--no-checkpoint",
    "--out",
    kdPath,
  ]);
  expect(t.code, t.stderr).toBe(0);
  const m = decodeModel(readFileSync(kdPath));
  const g = m.graph!;
  const rename = (from: string, to: string) => {
    for (const v of [...g.input, ...g.output]) if (v.name === from) v.name = to;
    for (const n of g.node) {
      n.input = n.input.map((i) => (i === from ? to : i));
      n.output = n.output.map((o) => (o === from ? to : o));
    }
  };
  rename(g.input[0]!.name, "pixels");
  rename(g.output[0]!.name, "scores");
  m.metadataProps = [];
  writeFileSync(path, encodeModel(m));
}

describe("the README's worked example", () => {
  it("runs as written: foreign teacher → image folder → baked student → int8 → prediction", () => {
    writeFolder("train", 0, 2000, join(dir, "digits", "train"));
    writeFolder("test", 0, 500, join(dir, "digits", "test"));
    foreignTeacher(join(dir, "torch-teacher.onnx"));
    const outputs: string[] = [];
    for (const args of workedCommands()) {
      const r = spawnSync(process.execPath, ["--import", tsx, bin, ...args], {
        cwd: dir,
        encoding: "utf8",
        timeout: 240_000,
        env: { ...process.env, KD_DEBUG: "" },
      });
      expect(r.status, `kd ${args.join(" ")}\n${r.stderr}`).toBe(0);
      outputs.push(r.stdout);
    }
    expect(outputs).toHaveLength(5);
    // The student eats raw bytes, and its int8 copy is about a quarter of its size.
    const student = decodeModel(readFileSync(join(dir, "student.onnx")));
    expect(readPreprocessing(student)).toEqual({ scale: 1 / 255, baked: true });
    const ratio = statSync(join(dir, "student.int8.onnx")).size / statSync(join(dir, "student.onnx")).size;
    expect(ratio).toBeLessThan(0.35);
    // The prediction of every test 7: one line each (and an accuracy line), most of them right.
    const sevens = readdirSync(join(dir, "digits", "test", "7")).length;
    const lines = outputs[4]!.trim().split("\n");
    const rows = lines.filter((l) => l.includes(".png\t"));
    expect(rows).toHaveLength(sevens);
    const right = rows.filter((l) => l.split("\t")[1]!.startsWith("7")).length;
    expect(right / sevens).toBeGreaterThan(0.8);
  }, 600_000);
});
