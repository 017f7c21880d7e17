/**
 * The page's WebGPU backend, bundled apart (kd-webgpu.js) and imported only when a user picks
 * WebGPU: onnxruntime-web's `webgpu` build (its native WebGPU execution provider, asyncify wasm),
 * with wasm running whatever operator the provider lacks.
 */
import * as ort from "onnxruntime-web/webgpu";
import type { InferenceBackend } from "../runtime/backend.js";
import { ortBackend, type WebBackendOptions } from "./ort-backend.js";

export function webgpuBackend(opts: WebBackendOptions): InferenceBackend {
  return ortBackend(ort, "webgpu", opts);
}
