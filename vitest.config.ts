import { defineConfig } from "vitest/config";

// ONNX Runtime already uses both cores inside one session: run test files one at a time.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
