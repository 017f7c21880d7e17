/** The onnxruntime-node backend; importing this module registers it (the Node entry points do). */
import os from "node:os";
import * as ort from "onnxruntime-node";
import { setTotalMemory } from "../util/memory.js";
import {
  type BackendSession,
  type HostArray,
  type HostTensor,
  type InferenceBackend,
  ORT_TYPE,
  type SessionOptions,
  setBackend,
  type TypedHostTensor,
} from "./backend.js";

class NodeSession implements BackendSession {
  constructor(private readonly session: ort.InferenceSession) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(
    feeds: Readonly<Record<string, TypedHostTensor>>,
    outputs: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, f] of Object.entries(feeds))
      ortFeeds[name] = new ort.Tensor(ORT_TYPE[f.dtype], f.data as never, f.dims as number[]);
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const name of outputs) {
      const t = into?.[name];
      fetches[name] = t ? new ort.Tensor("float32", t.data as Float32Array, t.dims as number[]) : null;
    }
    const res = await this.session.run(ortFeeds, fetches);
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(res)) out[name] = { data: t.data as HostArray, dims: t.dims };
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export const nodeBackend: InferenceBackend = {
  name: "onnxruntime-node",
  defaultThreads: () => os.availableParallelism(),
  async createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<BackendSession> {
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.threads ?? os.availableParallelism(),
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
    return new NodeSession(session);
  },
};

setBackend(nodeBackend);
setTotalMemory(os.totalmem());
