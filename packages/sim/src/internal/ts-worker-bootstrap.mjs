// Worker entry that runs a TypeScript module: `--import tsx` in a Worker's execArgv is ignored on
// Node 20 (the entry then fails with ERR_UNKNOWN_FILE_EXTENSION), so the worker registers tsx's ESM
// loader itself and then imports the real entry, passed as the worker's argv[2] (a file URL).
import { register } from "tsx/esm/api";

register();
const entry = process.argv[2];
if (!entry) throw new Error("ts-worker-bootstrap: no entry module URL in argv");
await import(entry);
