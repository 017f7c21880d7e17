/**
 * Child-process entry for memory-bomb tests: loads the dataset at argv[2] and prints its size and
 * shape, or "kd: <message>" for a KdError (exit 1); anything else is a crash (exit 3).
 */
import { loadDataset } from "../../src/data/load.js";
import { KdError } from "../../src/util/errors.js";

try {
  const ds = loadDataset(process.argv[2]!);
  console.log(JSON.stringify({ n: ds.n, shape: ds.exampleShape }));
} catch (e) {
  if (!(e instanceof KdError)) {
    console.error(e);
    process.exit(3);
  }
  console.error(`kd: ${e.message}`);
  process.exit(1);
}
