/** Tests for formatSeconds: rounding happens before the split, so no part ever reads 60. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatSeconds } from "../../src/util/duration.js";

describe("formatSeconds", () => {
  it("rounds up into the next unit instead of printing 60", () => {
    expect(formatSeconds(599.6, true)).toBe("10m00s");
    expect(formatSeconds(599.6)).toBe("10 min 00 s");
    expect(formatSeconds(59.96, true)).toBe("1m00s");
    expect(formatSeconds(3599.6, true)).toBe("1h00m");
    expect(formatSeconds(7199, true)).toBe("2h00m");
    expect(formatSeconds(12.34)).toBe("12.3 s");
    expect(formatSeconds(8040)).toBe("2 h 14 min");
  });

  it("never prints a part of 60 or more below the leading one", () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), (s) => {
        expect(formatSeconds(s, true)).toMatch(/^(?:[1-5]?\d\.\ds|[1-5]?\dm[0-5]\ds|\d+h[0-5]\dm)$/);
      }),
    );
  });
});
