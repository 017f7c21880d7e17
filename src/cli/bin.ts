#!/usr/bin/env node
/** Entry point of the `kd` executable. */
import "../runtime/node.js"; // sessions run on onnxruntime-node
import { main } from "./main.js";

process.exitCode = await main(process.argv.slice(2));
