/** Compiled graphs: one ONNX model and one ONNX Runtime session per function, run with typed feeds. */
import os from "node:os";
import * as ort from "onnxruntime-node";
import type { DType, Tensor } from "../ir/tensor.js";
import { buildModelBytes, type ModelSpec } from "../onnx/model.js";

export type HostArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint32Array | Uint8Array;

/** A value fed to or returned by a compiled function: flat data plus its concrete shape. */
export interface HostTensor {
  readonly data: HostArray;
  readonly dims: readonly number[];
}

export interface SessionOptions {
  /** Intra-op threads; defaults to every core (os.availableParallelism()). */
  readonly threads?: number;
  /** Let idle intra-op threads spin-wait (default false). */
  readonly spin?: boolean;
}

const ortType: { readonly [D in DType]: ort.Tensor.Type } = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  uint32: "uint32",
  bool: "bool",
};

export function defaultThreads(): number {
  return os.availableParallelism();
}

export async function createSession(
  bytes: Uint8Array,
  opts: SessionOptions = {},
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: opts.threads ?? defaultThreads(),
    interOpNumThreads: 1,
    // Spinning worker threads steal the core the JS thread needs between runs on small machines.
    extra: { session: { intra_op: { allow_spinning: opts.spin ? "1" : "0" } } },
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    // KD_ORT_PROFILE=prefix writes ONNX Runtime's per-op timing JSON (for performance work).
    ...(process.env.KD_ORT_PROFILE
      ? { enableProfiling: true, profileFilePrefix: process.env.KD_ORT_PROFILE }
      : {}),
  });
}

/** A traced graph compiled once; `run` feeds inputs by name and returns outputs by name. */
export class Compiled {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly inputTypes: ReadonlyMap<string, DType>,
    readonly bytes: Uint8Array,
  ) {}

  static async compile(spec: ModelSpec, opts: SessionOptions = {}): Promise<Compiled> {
    const bytes = buildModelBytes(spec);
    const session = await createSession(bytes, opts);
    const types = new Map(
      spec.inputs.filter((t) => !spec.initializers?.has(t)).map((t: Tensor) => [t.name, t.dtype]),
    );
    return new Compiled(session, types, bytes);
  }

  /**
   * Runs the function. `into` names outputs to write straight into caller-owned float32 arrays
   * of the right size, sparing ONNX Runtime an allocation per output.
   */
  async run(
    feeds: Readonly<Record<string, HostTensor>>,
    outputs?: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, dtype] of this.inputTypes) {
      const f = feeds[name];
      if (f === undefined) throw new Error(`missing feed "${name}"`);
      ortFeeds[name] = new ort.Tensor(ortType[dtype], f.data as never, f.dims as number[]);
    }
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of outputs ?? this.session.outputNames) {
      const t = into?.[name];
      fetches[name] = t ? new ort.Tensor("float32", t.data as Float32Array, t.dims as number[]) : null;
    }
    const res = await this.session.run(ortFeeds, fetches);
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(res)) out[name] = { data: t.data as HostArray, dims: t.dims };
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Shorthands for feeds. */
export const scalarF32 = (v: number): HostTensor => ({ data: Float32Array.of(v), dims: [] });
export const scalarI64 = (v: number | bigint): HostTensor => ({
  data: BigInt64Array.of(BigInt(v)),
  dims: [],
});
