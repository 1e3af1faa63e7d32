#!/usr/bin/env bash
# tools/new-package.sh <dir> <name> [dep ...] — lays out a workspace package the way every Faultline package looks.
set -euo pipefail
dir=$1; name=$2; shift 2
mkdir -p "$dir/src"
rel=$(realpath --relative-to="$dir" .)
deps=""
for d in "$@"; do deps="$deps\"$d\": \"workspace:*\","; done
deps=${deps%,}
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "description": "Faultline: $name",
  "license": "MIT",
  "type": "module",
  "sideEffects": false,
  "keywords": ["faultline", "linux", "mmap", "emulator"],
  "exports": {
    ".": {
      "@faultline/source": "./src/index.ts",
      "types": "./dist/index.d.ts",
      "default": "./dist/index.js"
    },
    "./internal/*": null,
    "./package.json": "./package.json"
  },
  "files": ["dist", "src", "!src/**/*.test.ts"],
  "scripts": {
    "build": "tsup",
    "typecheck": "tsc -p tsconfig.json",
    "lint": "biome check .",
    "publint": "publint --strict",
    "test": "vitest run"
  },
  "dependencies": {$deps}
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "$rel/tsconfig.base.json",
  "include": ["src", "test", "bench", "*.ts"]
}
JSON
cat > "$dir/tsup.config.ts" <<TS
import { faultlineBuild } from "$rel/tsup.shared";

export default faultlineBuild();
TS
short=${name#@faultline/}
cat > "$dir/vitest.config.ts" <<TS
import { faultlineProject } from "$rel/vitest.shared";

export default faultlineProject("$short");
TS
[ -f "$dir/src/index.ts" ] || echo "export {};" > "$dir/src/index.ts"
