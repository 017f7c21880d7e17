/** Compiled graphs: one ONNX model and one ONNX Runtime session per function, run with typed feeds. */
import type { DType, Tensor } from "../ir/tensor.js";
import { buildModelBytes, type ModelSpec } from "../onnx/model.js";
import {
  type BackendSession,
  getBackend,
  type HostTensor,
  type SessionOptions,
  type TypedHostTensor,
} from "./backend.js";

export type { HostArray, HostTensor, SessionOptions } from "./backend.js";

/** Threads a session gets by default from the registered backend (Node: every core). */
export function defaultThreads(): number {
  return getBackend().defaultThreads();
}

/** A session of the registered backend (onnxruntime-node in Node, onnxruntime-web in a page). */
export function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<BackendSession> {
  return getBackend().createSession(bytes, opts);
}

/** A traced graph compiled once; `run` feeds inputs by name and returns outputs by name. */
export class Compiled {
  private constructor(
    readonly session: BackendSession,
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
    const typed: Record<string, TypedHostTensor> = {};
    for (const [name, dtype] of this.inputTypes) {
      const f = feeds[name];
      if (f === undefined) throw new Error(`missing feed "${name}"`);
      typed[name] = { data: f.data, dims: f.dims, dtype };
    }
    return this.session.run(typed, outputs ?? this.session.outputNames, into);
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
