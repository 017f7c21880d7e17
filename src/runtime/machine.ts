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

type Names = readonly (readonly [flag: string, name: string])[];
/** /proc/cpuinfo flag → name, in the order printed; AVX-512's subsets are one entry between the two lists. */
const BEFORE_AVX512: Names = [
  ["avx", "AVX"],
  ["avx2", "AVX2"],
  ["fma", "FMA"],
];
const AVX512: Names = [
  ["avx512f", "F"],
  ["avx512bw", "BW"],
  ["avx512dq", "DQ"],
  ["avx512vl", "VL"],
  ["avx512_vnni", "VNNI"],
  ["avx512_bf16", "BF16"],
  ["avx512_fp16", "FP16"],
];
const AFTER_AVX512: Names = [
  ["avx_vnni", "AVX-VNNI"],
  ["amx_tile", "AMX"],
  ["asimd", "NEON"],
  ["sve", "SVE"],
  ["sve2", "SVE2"],
];

/** The vector extensions named by a /proc/cpuinfo text (its first "flags" or "Features" line). */
export function vectorExtensions(cpuinfo: string): string[] {
  const line = /^(?:flags|Features)\s*:(.*)$/m.exec(cpuinfo)?.[1];
  if (!line) return [];
  const have = new Set(line.trim().split(/\s+/));
  const named = (list: Names) => list.filter(([f]) => have.has(f)).map(([, name]) => name);
  // AVX-512 without its foundation is not AVX-512.
  const avx512 = have.has("avx512f") ? [`AVX-512 ${named(AVX512).join("/")}`] : [];
  return [...named(BEFORE_AVX512), ...avx512, ...named(AFTER_AVX512)];
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
