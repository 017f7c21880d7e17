/**
 * The ONNX Runtime behind compiled graphs, as an interface: onnxruntime-node in Node
 * (src/runtime/node.ts, registered by the Node entry points), onnxruntime-web in a page
 * (src/web/backend.ts). Graph building never imports a runtime, so it runs in both.
 */
import type { DType } from "../ir/tensor.js";

export type HostArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint32Array | Uint8Array;

/** A value fed to or returned by a compiled function: flat data plus its concrete shape. */
export interface HostTensor {
  readonly data: HostArray;
  readonly dims: readonly number[];
}

/** A feed with the element type the model declares for it. */
export interface TypedHostTensor extends HostTensor {
  readonly dtype: DType;
}

export interface SessionOptions {
  /**
   * Intra-op threads. Node: defaults to every core (os.availableParallelism()). Web: ignored;
   * the page sets onnxruntime-web's one global thread count when it creates the backend.
   */
  readonly threads?: number;
  /** Let idle intra-op threads spin-wait (default false). Node only. */
  readonly spin?: boolean;
}

/** One loaded model. */
export interface BackendSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /**
   * Runs the model and returns `outputs` by name. `into` names float32 outputs to write into
   * caller-owned arrays of the right size; the returned tensors then hold those arrays.
   */
  run(
    feeds: Readonly<Record<string, TypedHostTensor>>,
    outputs: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>>;
  release(): Promise<void>;
}

/** Creates sessions from serialized ONNX models. */
export interface InferenceBackend {
  /** "onnxruntime-node", "onnxruntime-web (wasm)", ... */
  readonly name: string;
  /** Threads a session gets when SessionOptions.threads is unset. */
  defaultThreads(): number;
  createSession(bytes: Uint8Array, opts?: SessionOptions): Promise<BackendSession>;
}

let current: InferenceBackend | undefined;

/** Makes `backend` the one every later session is created by. */
/** ONNX Runtime's tensor type names for kd's dtypes (the same in onnxruntime-node and -web). */
export const ORT_TYPE = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  uint32: "uint32",
  bool: "bool",
} as const satisfies { readonly [D in DType]: string };

/** What a session of either onnxruntime package looks like (each bundles its own onnxruntime-common). */
interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  release(): Promise<void>;
}

/** Makes a tensor of one onnxruntime package: its `Tensor` constructor. */
export type OrtTensorMaker<T> = (type: (typeof ORT_TYPE)[DType], data: HostArray, dims: number[]) => T;

/**
 * What the node and web sessions share: names, release and the conversion of feeds; each runs
 * the graph its own way (node fills caller-owned outputs in place, wasm copies out of its heap).
 */
export abstract class OrtSession<S extends OrtSessionLike, T> implements BackendSession {
  constructor(
    protected readonly session: S,
    private readonly tensor: OrtTensorMaker<T>,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  protected feeds(feeds: Readonly<Record<string, TypedHostTensor>>): Record<string, T> {
    const out: Record<string, T> = {};
    for (const [name, f] of Object.entries(feeds))
      out[name] = this.tensor(ORT_TYPE[f.dtype], f.data, f.dims as number[]);
    return out;
  }

  abstract run(
    feeds: Readonly<Record<string, TypedHostTensor>>,
    outputs: readonly string[],
    into?: Readonly<Record<string, HostTensor>>,
  ): Promise<Record<string, HostTensor>>;

  release(): Promise<void> {
    return this.session.release();
  }
}

export function setBackend(backend: InferenceBackend): void {
  current = backend;
}

export function getBackend(): InferenceBackend {
  if (!current)
    throw new Error(
      "no ONNX Runtime backend registered: import kd from its Node entry (src/index.ts) or call setBackend()",
    );
  return current;
}
