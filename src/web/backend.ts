/** The onnxruntime-web (wasm) backend: kd's compiled graphs run in the page by ONNX Runtime's WebAssembly build. */
import * as ort from "onnxruntime-web/wasm";
import {
  type BackendSession,
  type HostArray,
  type HostTensor,
  type InferenceBackend,
  OrtSession,
  type TypedHostTensor,
} from "../runtime/backend.js";

class WebSession extends OrtSession<ort.InferenceSession, ort.Tensor> {
  async run(
    feeds: Readonly<Record<string, TypedHostTensor>>,
    outputs: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>> {
    const res = await this.session.run(this.feeds(feeds), outputs as string[]);
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(res)) {
      // Outputs are copied out of the wasm heap anyway; one more copy honours `into`.
      const target = into?.[name];
      if (target) (target.data as Float32Array).set(t.data as Float32Array);
      out[name] = target ?? { data: t.data as HostArray, dims: t.dims };
      t.dispose();
    }
    return out;
  }
}

export interface WebBackendOptions {
  /** URL of the folder holding ort-wasm-simd-threaded.{mjs,wasm} (copied from the npm package). */
  readonly wasmPaths: string;
  /** WebAssembly threads; more than 1 needs a cross-origin-isolated page (COOP/COEP headers). */
  readonly threads: number;
}

/** Configures onnxruntime-web's global wasm settings and returns a backend over it. */
export function webBackend(opts: WebBackendOptions): InferenceBackend {
  ort.env.wasm.wasmPaths = opts.wasmPaths;
  ort.env.wasm.numThreads = opts.threads;
  return {
    name: `onnxruntime-web ${ort.env.versions.web ?? ""} (wasm, ${opts.threads} thread${opts.threads === 1 ? "" : "s"})`,
    defaultThreads: () => opts.threads,
    async createSession(bytes: Uint8Array): Promise<BackendSession> {
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ["wasm"],
        graphOptimizationLevel: "all",
        executionMode: "sequential",
      });
      return new WebSession(session, (type, data, dims) => new ort.Tensor(type, data as never, dims));
    },
  };
}
