#!/usr/bin/env node
// The `faultline` command. Installed from the registry it runs the compiled dist/cli.js; inside the
// Faultline repository (where src/ exists) it runs the TypeScript sources through tsx with the
// workspace's source export condition, so no build is needed there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const source = new URL("../src/cli.ts", import.meta.url);
if (existsSync(source)) {
  const r = spawnSync(
    process.execPath,
    ["--conditions=@faultline/source", "--import", "tsx", source.pathname, ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exitCode = r.status ?? 1;
} else {
  await import(new URL("../dist/cli.js", import.meta.url).href);
}
