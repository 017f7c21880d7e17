/** Vitest setup: tests import library modules directly, so register the Node backend as src/index.ts does. */
import "../src/runtime/node.js";
