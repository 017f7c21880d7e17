/** PyTorch reference fixtures (test/fixtures/torch/, written by scripts/torch-fixtures/) and their tolerance. */
import { readFileSync } from "node:fs";
import { expect } from "vitest";

/** A tensor as a fixture stores it. */
export interface Fixed {
  readonly shape: number[];
  readonly data: number[];
}

/** test/fixtures/torch/<name>.json, as the caller's fixture type. */
export const loadTorchFixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../fixtures/torch/${name}.json`, import.meta.url), "utf8"));

/** Every entry within 1e-5 absolute + 1e-4 relative of PyTorch's. */
export function expectClose(actual: ArrayLike<number>, want: Fixed, what: string): void {
  expect(actual.length, what).toBe(want.data.length);
  let worst = 0;
  want.data.forEach((b, i) => {
    worst = Math.max(worst, Math.abs(actual[i]! - b) - (1e-5 + 1e-4 * Math.abs(b)));
  });
  expect(worst, `${what}: worst excess over the tolerance`).toBeLessThanOrEqual(0);
}
