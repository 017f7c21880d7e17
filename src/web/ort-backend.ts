/**
 * A backend over any onnxruntime-web build: the wasm one (web/backend.ts) or the WebGPU one
 * (web/webgpu.ts, a separate bundle). No build is imported here, so neither bundle holds both.
 */
import type * as Ort from "onnxruntime-web/wasm";
import {
  type BackendSession,
  type HostArray,
  type HostTensor,
  type InferenceBackend,
  OrtSession,
  type TypedHostTensor,
} from "../runtime/backend.js";

/** What kd uses of an onnxruntime-web build (every build exports the same API). */
export type OrtModule = Pick<typeof Ort, "InferenceSession" | "Tensor" | "env">;

class WebSession extends OrtSession<Ort.InferenceSession, Ort.Tensor> {
  async run(
    feeds: Readonly<Record<string, TypedHostTensor>>,
    outputs: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>> {
    const res = await this.session.run(this.feeds(feeds), outputs as string[]);
    const out: Record<string, HostTensor> = {};
    for (const [name, t] of Object.entries(res)) {
      // Outputs are copied out of the wasm heap (or the GPU) anyway; one more copy honours `into`.
      const target = into?.[name];
      if (target) (target.data as Float32Array).set(t.data as Float32Array);
      out[name] = target ?? { data: t.data as HostArray, dims: t.dims };
      t.dispose();
    }
    return out;
  }
}

export interface WebBackendOptions {
  /** URL of the folder holding onnxruntime-web's ort-wasm-simd-threaded*.{mjs,wasm} (copied from the npm package). */
  readonly wasmPaths: string;
  /** WebAssembly threads; more than 1 needs a cross-origin-isolated page (COOP/COEP headers). */
  readonly threads: number;
  /** ONNX Runtime's verbose log on the console (the page's ?ortlog=verbose). */
  readonly verbose?: boolean;
}

/** A backend over one onnxruntime-web build (`ort`) and execution provider. */
export function ortBackend(o: OrtModule, ep: "wasm" | "webgpu", opts: WebBackendOptions): InferenceBackend {
  o.env.wasm.wasmPaths = opts.wasmPaths;
  o.env.wasm.numThreads = opts.threads;
  if (opts.verbose) o.env.logLevel = "verbose";
  const threads = `${opts.threads} thread${opts.threads === 1 ? "" : "s"}`;
  return {
    name: `onnxruntime-web ${o.env.versions.web ?? ""} (${ep === "wasm" ? `wasm, ${threads}` : `WebGPU, wasm ${threads} for the rest`})`,
    defaultThreads: () => opts.threads,
    async createSession(bytes: Uint8Array): Promise<BackendSession> {
      const session = await o.InferenceSession.create(bytes, {
        executionProviders: [ep],
        graphOptimizationLevel: "all",
        executionMode: "sequential",
        // Verbose logs list the nodes each provider runs (those WebGPU leaves to the CPU among them).
        ...(opts.verbose ? { logSeverityLevel: 0 as const, logVerbosityLevel: 1 } : {}),
      });
      return new WebSession(session, (type, data, dims) => new o.Tensor(type, data as never, dims));
    },
  };
}
