/** The onnxruntime-web (wasm) backend: kd's compiled graphs run in the page by ONNX Runtime's WebAssembly build. */
import * as ort from "onnxruntime-web/wasm";
import type { InferenceBackend } from "../runtime/backend.js";
import { ortBackend, type WebBackendOptions } from "./ort-backend.js";

export type { WebBackendOptions } from "./ort-backend.js";

/** Configures onnxruntime-web's wasm build and returns a backend over it. */
export function webBackend(opts: WebBackendOptions): InferenceBackend {
  return ortBackend(ort, "wasm", opts);
}
