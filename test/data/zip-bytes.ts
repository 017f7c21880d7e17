/**
 * Test helper: zip archives written by hand (hostile ones included: entries aliasing one
 * compressed range, sizes that lie) and deflate streams of gigabytes of zeros built in
 * milliseconds from one flushed block repeated.
 */
import { constants, deflateRawSync } from "node:zlib";

/** One entry: its bytes as stored (`method` 8: raw deflate) and the size it declares once inflated. */
export interface ZipEntrySpec {
  readonly name: string;
  readonly method: 0 | 8;
  readonly body: Uint8Array;
  readonly size: number;
}

const CHUNK = 1 << 20;

/**
 * A raw deflate stream of `prefix` followed by `zeros` zero bytes, about 1/1000 of that size.
 * Each piece is compressed on its own and full-flushed (byte-aligned, no references back), so
 * copies of one zero block concatenate into a valid stream; "03 00" is an empty final block.
 */
export function deflatedZeros(prefix: Uint8Array, zeros: number): Uint8Array {
  const flushed = (b: Uint8Array) => deflateRawSync(b, { finishFlush: constants.Z_FULL_FLUSH });
  const block = flushed(new Uint8Array(CHUNK));
  const parts: Uint8Array[] = [flushed(prefix)];
  for (let i = 0; i < Math.floor(zeros / CHUNK); i++) parts.push(block);
  parts.push(flushed(new Uint8Array(zeros % CHUNK)), Uint8Array.from([0x03, 0x00]));
  return Buffer.concat(parts);
}

/**
 * A zip archive of `entries` (CRCs left 0: kd does not check them). `aliases` adds directory
 * records under other names that point at an existing entry's local header.
 */
export function zipBytes(entries: readonly ZipEntrySpec[], aliases: Record<string, string> = {}): Uint8Array {
  const locals: Buffer[] = [];
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(e.method, 8);
    h.writeUInt32LE(e.body.length, 18);
    h.writeUInt32LE(e.size, 22);
    h.writeUInt16LE(name.length, 26);
    offsets.set(e.name, offset);
    locals.push(h, name, Buffer.from(e.body));
    offset += 30 + name.length + e.body.length;
  }
  const records = [...entries.map((e) => [e.name, e] as const)];
  for (const [alias, target] of Object.entries(aliases))
    records.push([alias, entries.find((e) => e.name === target)!]);
  const central: Buffer[] = [];
  let centralSize = 0;
  for (const [alias, e] of records) {
    const name = Buffer.from(alias);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(e.method, 10);
    c.writeUInt32LE(e.body.length, 20);
    c.writeUInt32LE(e.size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offsets.get(e.name)!, 42);
    central.push(c, name);
    centralSize += 46 + name.length;
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(records.length, 8);
  end.writeUInt16LE(records.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...central, end]);
}
