/** Thin helpers over the generated ONNX protobuf types: tensors, attributes, value infos, encode/decode. */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConstData, DType, Shape } from "../ir/tensor.js";
import {
  AttributeProto_AttributeType as AT,
  type AttributeProto,
  AttributeProtoSchema,
  TensorProto_DataType as DT,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "./gen/onnx_pb.js";

export type { ModelProto, NodeProto, TensorProto, ValueInfoProto };
export { DT as OnnxDataType };

export const dtypeToOnnx: { readonly [D in DType]: DT } = {
  float32: DT.FLOAT,
  float64: DT.DOUBLE,
  int64: DT.INT64,
  int32: DT.INT32,
  uint32: DT.UINT32,
  bool: DT.BOOL,
};

export type AttrValue =
  | number
  | bigint
  | string
  | readonly number[]
  | readonly bigint[]
  | { float: number }
  | { floats: readonly number[] }
  | TensorProto;

/** Builds an attribute. Plain numbers are INT(S); wrap floats as `{ float }` / `{ floats }`. */
export function attr(name: string, v: AttrValue): AttributeProto {
  if (typeof v === "number" || typeof v === "bigint")
    return create(AttributeProtoSchema, { name, type: AT.INT, i: BigInt(v) });
  if (typeof v === "string")
    return create(AttributeProtoSchema, { name, type: AT.STRING, s: new TextEncoder().encode(v) });
  if (Array.isArray(v))
    return create(AttributeProtoSchema, { name, type: AT.INTS, ints: v.map((x) => BigInt(x)) });
  if ("float" in v) return create(AttributeProtoSchema, { name, type: AT.FLOAT, f: v.float });
  if ("floats" in v) return create(AttributeProtoSchema, { name, type: AT.FLOATS, floats: [...v.floats] });
  return create(AttributeProtoSchema, { name, type: AT.TENSOR, t: v as TensorProto });
}

export function makeNode(
  opType: string,
  input: string[],
  output: string[],
  attrs: Record<string, AttrValue> = {},
  name = "",
): NodeProto {
  return create(NodeProtoSchema, {
    opType,
    input,
    output,
    name,
    attribute: Object.entries(attrs).map(([k, v]) => attr(k, v)),
  });
}

/** A tensor with its bytes in raw_data (little-endian, as ONNX requires). */
export function makeTensor(
  name: string,
  dtype: DType,
  dims: readonly number[],
  data: ConstData,
): TensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return create(TensorProtoSchema, {
    name,
    dataType: dtypeToOnnx[dtype],
    dims: dims.map((d) => BigInt(d)),
    rawData: bytes,
  });
}

export function valueInfo(name: string, dtype: DType | DT, shape: Shape): ValueInfoProto {
  const elemType = typeof dtype === "string" ? dtypeToOnnx[dtype] : dtype;
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: "tensorType",
        value: {
          elemType,
          shape: {
            dim: shape.map((d) => ({
              value:
                typeof d === "number"
                  ? { case: "dimValue" as const, value: BigInt(d) }
                  : { case: "dimParam" as const, value: d },
            })),
          },
        },
      },
    },
  });
}

/** Float values of a float32 tensor, wherever the file stored them. */
export function floatValues(t: TensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new Error(`tensor ${t.name} is not float32`);
  if (t.rawData.length > 0) {
    // A copy at offset 0: rawData may be a view into a Node Buffer at any byte offset.
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData);
}

export function setFloatValues(t: TensorProto, values: Float32Array): void {
  t.rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
  t.floatData = [];
}

export function encodeModel(m: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, m);
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return fromBinary(ModelProtoSchema, bytes);
}

export function createModel(init: Parameters<typeof create<typeof ModelProtoSchema>>[1]): ModelProto {
  return create(ModelProtoSchema, init);
}
