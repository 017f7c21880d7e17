/** Zip archives (NPZ) read entry by entry: the directory checked first, entries inflated when asked, never past their size. */
import { constants, inflateRawSync } from "node:zlib";
import { ensure, KdError } from "../util/errors.js";
import { checkAllocation, formatBytes } from "../util/memory.js";

/** One file of a zip archive, as its central directory declares it. */
export interface ZipEntry {
  readonly name: string;
  /** 0: stored, 8: deflated. */
  readonly method: number;
  /** Bytes once inflated, as declared (refused if the data inflates to more). */
  readonly size: number;
  /** The compressed bytes, located through the entry's local header. */
  readonly start: number;
  readonly end: number;
  /** Where its local header starts: entries' [header, end) ranges must not overlap. */
  readonly header: number;
}

const EOCD = 0x06054b50;
const ZIP64_EOCD = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;

/** Reads little-endian fields of `bytes`, refusing any read past its end. */
class Reader {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private at(off: number, n: number): number {
    ensure(off >= 0 && off + n <= this.bytes.length, () => `${this.what}: truncated zip archive`);
    return off;
  }
  u16 = (off: number) => this.view.getUint16(this.at(off, 2), true);
  u32 = (off: number) => this.view.getUint32(this.at(off, 4), true);
  u64 = (off: number): number => {
    const v = this.view.getBigUint64(this.at(off, 8), true);
    ensure(v <= BigInt(Number.MAX_SAFE_INTEGER), () => `${this.what}: zip field out of range`);
    return Number(v);
  };
  text = (off: number, n: number) => new TextDecoder().decode(this.bytes.subarray(this.at(off, n), off + n));
}

/** The end-of-central-directory record: entry count and the directory's offset (zip64 when flagged). */
function directory(r: Reader, what: string): { count: number; offset: number } {
  const n = r.bytes.length;
  // The record is 22 bytes plus a comment of at most 65535 bytes, so it starts in the file's tail.
  let eocd = -1;
  for (let i = n - 22; i >= Math.max(0, n - 22 - MAX_U16); i--)
    if (r.u32(i) === EOCD) {
      eocd = i;
      break;
    }
  ensure(eocd >= 0, () => `${what}: not a zip archive (no end-of-central-directory record)`);
  let count = r.u16(eocd + 10);
  let offset = r.u32(eocd + 16);
  if (count === MAX_U16 || offset === MAX_U32) {
    ensure(eocd >= 20 && r.u32(eocd - 20) === ZIP64_LOCATOR, () => `${what}: zip64 locator missing`);
    const z = r.u64(eocd - 12);
    ensure(r.u32(z) === ZIP64_EOCD, () => `${what}: zip64 end-of-central-directory record missing`);
    count = r.u64(z + 32);
    offset = r.u64(z + 48);
  }
  return { count, offset };
}

/** Sizes and offset from a zip64 extra field (id 1), for the fields the entry set to 0xFFFFFFFF. */
function zip64Fields(r: Reader, extra: number, extraLen: number, want: number[], what: string): number[] {
  for (let p = extra; p + 4 <= extra + extraLen; ) {
    const id = r.u16(p);
    const len = r.u16(p + 2);
    if (id === 1) {
      let q = p + 4;
      return want.map((v) => {
        if (v !== MAX_U32) return v;
        ensure(q + 8 <= p + 4 + len, () => `${what}: zip64 extra field too short`);
        const x = r.u64(q);
        q += 8;
        return x;
      });
    }
    p += 4 + len;
  }
  return want;
}

/**
 * The entries of a zip archive, from its central directory: each located through its local
 * header, inside the file, stored or deflated, unencrypted, and no two sharing bytes (a zip
 * bomb's overlapping entries inflate one compressed range many times).
 */
export function zipEntries(bytes: Uint8Array, what: string): ZipEntry[] {
  const r = new Reader(bytes, what);
  const { count, offset } = directory(r, what);
  // Each directory record takes at least 46 bytes: a count beyond that is a lie, not a loop bound.
  ensure(count <= (bytes.length - offset) / 46, () => `${what}: zip directory claims ${count} entries`);
  const entries: ZipEntry[] = [];
  let p = offset;
  for (let i = 0; i < count; i++) {
    ensure(r.u32(p) === CENTRAL, () => `${what}: corrupt zip directory (entry ${i})`);
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    const [nameLen, extraLen, commentLen] = [r.u16(p + 28), r.u16(p + 30), r.u16(p + 32)];
    const name = r.text(p + 46, nameLen);
    const [size, compressed, header] = zip64Fields(
      r,
      p + 46 + nameLen,
      extraLen,
      [r.u32(p + 24), r.u32(p + 20), r.u32(p + 42)],
      `${what}: ${name}`,
    ) as [number, number, number];
    p += 46 + nameLen + extraLen + commentLen;
    // Names go into messages and array keys; NumPy writes identifiers, never control characters.
    ensure(![...name].some((c) => c < " "), () => `${what}: entry ${i}'s name holds control characters`);
    ensure((flags & 1) === 0, () => `${what}: ${name} is encrypted`);
    ensure(
      method === 0 || method === 8,
      () => `${what}: ${name} uses zip compression method ${method} (kd reads stored or deflated entries)`,
    );
    ensure(method === 8 || size === compressed, () => `${what}: ${name}: stored sizes disagree`);
    ensure(r.u32(header) === LOCAL, () => `${what}: ${name}: no local header at offset ${header}`);
    const start = header + 30 + r.u16(header + 26) + r.u16(header + 28);
    const end = start + compressed;
    ensure(end <= offset, () => `${what}: ${name}: its data runs past the archive's data`);
    entries.push({ name, method, size, start, end, header });
  }
  const byOffset = [...entries].sort((a, b) => a.header - b.header);
  for (let i = 1; i < byOffset.length; i++) {
    const [a, b] = [byOffset[i - 1]!, byOffset[i]!];
    if (b.header < a.end)
      throw new KdError(`${what}: entries ${a.name} and ${b.name} share compressed bytes (a zip bomb?)`);
  }
  return entries;
}

/**
 * The first bytes of an entry once inflated (up to about 1 MB): enough for a header, without
 * inflating the rest.
 */
export function peekEntry(bytes: Uint8Array, e: ZipEntry, what: string): Uint8Array {
  if (e.method === 0) return bytes.subarray(e.start, e.end);
  const data = bytes.subarray(e.start, Math.min(e.end, e.start + 1024));
  try {
    // Sync flush: a truncated stream gives what it inflates to so far instead of an error.
    return inflateRawSync(data, { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (err) {
    throw new KdError(`${what}: corrupt deflate data (${(err as Error).message})`);
  }
}

/** An entry's bytes: memory for its declared size checked first, and it may not inflate past it. */
export function readEntry(bytes: Uint8Array, e: ZipEntry, what: string): Uint8Array {
  checkAllocation(e.size, `${what}: inflating the entry`, e.size);
  const data = bytes.subarray(e.start, e.end);
  if (e.method === 0) return data;
  let out: Uint8Array;
  try {
    out = inflateRawSync(data, { maxOutputLength: Math.max(1, e.size) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE")
      throw new KdError(`${what}: inflates to more than its declared ${formatBytes(e.size)}`);
    throw new KdError(`${what}: corrupt deflate data (${(err as Error).message})`);
  }
  ensure(
    out.length === e.size,
    () => `${what}: inflates to ${out.length} bytes, not the ${e.size} its zip entry declares`,
  );
  return out;
}
