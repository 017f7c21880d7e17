/**
 * The machine a number was measured on: CPU model, cores, the vector extensions that decide the
 * speed of the GEMM kernels (AVX2 parts run kd's step about 2x slower than AVX-512 parts), Node
 * and onnxruntime-node versions. Recorded in results.json and printed by `kd bench`.
 */
import { readFileSync } from "node:fs";
import os from "node:os";
import * as ort from "onnxruntime-node";

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  /** E.g. ["AVX2", "AVX-512 F/BW/DQ/VL/VNNI/BF16"]; empty where the CPU's flags cannot be read. */
  readonly vectorExtensions: string[];
  readonly node: string;
  readonly onnxruntime: string;
}

/** /proc/cpuinfo flag → name, in the order printed; AVX-512 subsets are folded into one entry. */
const FLAGS: readonly (readonly [string, string])[] = [
  ["avx", "AVX"],
  ["avx2", "AVX2"],
  ["fma", "FMA"],
  ["avx_vnni", "AVX-VNNI"],
  ["amx_tile", "AMX"],
  ["asimd", "NEON"],
  ["sve", "SVE"],
  ["sve2", "SVE2"],
];
const AVX512: readonly (readonly [string, string])[] = [
  ["avx512f", "F"],
  ["avx512bw", "BW"],
  ["avx512dq", "DQ"],
  ["avx512vl", "VL"],
  ["avx512_vnni", "VNNI"],
  ["avx512_bf16", "BF16"],
  ["avx512_fp16", "FP16"],
];

/** The vector extensions named by a /proc/cpuinfo text (its first "flags" or "Features" line). */
export function vectorExtensions(cpuinfo: string): string[] {
  const line = /^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo)?.[1];
  if (!line) return [];
  const have = new Set(line.trim().split(/\s+/));
  const out = FLAGS.filter(([f]) => have.has(f)).map(([, name]) => name);
  const wide = AVX512.filter(([f]) => have.has(f)).map(([, name]) => name);
  // AVX-512 without its foundation is not AVX-512.
  if (have.has("avx512f")) out.splice(out.indexOf("FMA") + 1, 0, `AVX-512 ${wide.join("/")}`);
  return out;
}

function cpuinfo(): string {
  try {
    return readFileSync("/proc/cpuinfo", "utf8");
  } catch {
    // Not Linux, or /proc hidden: the extensions are then unknown, not an error.
    return "";
  }
}

export function machineInfo(): MachineInfo {
  const text = cpuinfo();
  // os.cpus() gives a shortened model on some virtual machines; /proc/cpuinfo has the full name.
  const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  return {
    cpus: os.cpus().length,
    cpuModel: model,
    vectorExtensions: vectorExtensions(text),
    node: process.version,
    onnxruntime: ort.env.versions.node ?? "unknown",
  };
}
