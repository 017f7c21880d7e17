/**
 * Test helper: a one-component (grayscale) baseline JPEG of one 8×8 block of one value, written
 * by hand, since jpeg-js only encodes colour. Quantization 1 and one-code Huffman tables: the
 * block is its DC coefficient, 8·(value − 128), then end-of-block.
 */
export function grayJpeg8x8(value: number): Uint8Array {
  const dc = 8 * (value - 128);
  const cat = dc === 0 ? 0 : Math.floor(Math.log2(Math.abs(dc))) + 1;
  // JPEG codes a negative difference as its ones' complement in `cat` bits.
  const raw = dc >= 0 ? dc : dc + (1 << cat) - 1;
  const bits = `0${cat ? raw.toString(2).padStart(cat, "0") : ""}0`; // DC code, its bits, AC end-of-block
  const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, "1");
  const scan = Array.from({ length: padded.length / 8 }, (_, i) =>
    Number.parseInt(padded.slice(8 * i, 8 * i + 8), 2),
  );
  const seg = (marker: number, body: number[]) => [
    0xff,
    marker,
    (body.length + 2) >> 8,
    (body.length + 2) & 0xff,
    ...body,
  ];
  const oneCode = (tableClass: number, symbol: number) => [
    tableClass << 4,
    1,
    ...new Array(15).fill(0),
    symbol,
  ];
  return Uint8Array.from([
    0xff,
    0xd8,
    ...seg(0xdb, [0, ...new Array(64).fill(1)]),
    ...seg(0xc0, [8, 0, 8, 0, 8, 1, 1, 0x11, 0]),
    ...seg(0xc4, oneCode(0, cat)),
    ...seg(0xc4, oneCode(1, 0)),
    ...seg(0xda, [1, 1, 0x00, 0, 63, 0]),
    ...scan.flatMap((b) => (b === 0xff ? [0xff, 0] : [b])),
    0xff,
    0xd9,
  ]);
}
