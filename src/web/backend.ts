/** The onnxruntime-web (wasm) backend: kd's compiled graphs run in the page by ONNX Runtime's WebAssembly build. */
import * as ort from "onnxruntime-web/wasm";
import {
  type BackendSession,
  type HostArray,
  type HostTensor,
  type InferenceBackend,
  ORT_TYPE,
  type TypedHostTensor,
} from "../runtime/backend.js";

class WebSession implements BackendSession {
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
    const res = await this.session.run(ortFeeds, outputs as string[]);
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

  release(): Promise<void> {
    return this.session.release();
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
      return new WebSession(session);
    },
  };
}
