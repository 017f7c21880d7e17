import { describe, expect, it } from "vitest";
import { printable } from "../../src/cli/main.js";

describe("printable", () => {
  it("keeps a message on one line, whatever a file's names hold", () => {
    expect(printable('output "a\nb\u001b[31m" is not finite')).toBe(
      'output "a\\x0ab\\x1b[31m" is not finite',
    );
    expect(printable("plain text, ümlauts and ∞ stay")).toBe("plain text, ümlauts and ∞ stay");
  });
});
