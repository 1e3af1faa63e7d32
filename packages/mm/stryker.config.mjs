// pnpm mutate (not in CI: too slow for 2 cores). mm's scope is run in chunks, each a few functions
// (Stryker's `file:start-end` line ranges) against only the test files that exercise them, so one
// chunk takes well under 40 minutes on 2 shared cores: FAULTLINE_MUTATE_CHUNK=<name> picks one
// (tools/mutate/run.ts sets it; without it, every chunk's ranges against every chunk's tests).
// Tests run without the live kernel (CC points nowhere) so every host scores the same.
import { readFileSync } from "node:fs";

/**
 * Stryker's `file:start-end` ranges for the named top-level functions (or consts) of `file`, found in
 * the source as it is now, so the ranges follow the code when lines move: from the declaration to the
 * closing `}` at column 0 (a const: to its first line ending in `;` at column 0 or the next blank line).
 */
function fns(file, names) {
  const lines = readFileSync(new URL(file, import.meta.url), "utf8").split("\n");
  return names.map((n) => {
    const decl = new RegExp(`^(export )?(function ${n}\\b|const ${n}\\b)`);
    const start = lines.findIndex((l) => decl.test(l));
    if (start < 0) throw new Error(`stryker.config.mjs: no function ${n} in ${file}`);
    const isConst = lines[start].includes(`const ${n}`);
    let end = start;
    while (end + 1 < lines.length) {
      if (!isConst && lines[end] === "}") break;
      if (isConst && (lines[end].trimEnd().endsWith(";") || lines[end + 1] === "")) break;
      end++;
    }
    return `${file}:${start + 1}-${end + 1}`;
  });
}

const chunks = {
  // handle_mm_fault → handle_pte_fault, do_anonymous_page, do_fault / do_cow_fault / __do_fault,
  // do_page_mkwrite, do_wp_page (COW reuse and copy).
  fault: {
    mutate: fns("src/fault.ts", [
      "handleMmFault",
      "handlePteFault",
      "doAnonymousPage",
      "newAnonPage",
      "copyFrame",
      "doFault",
      "faultAround",
      "callFault",
      "doCowFault",
      "callMkwrite",
      "doWpPage",
    ]),
    tests: [
      "src/fault.test.ts",
      "src/fault-driver.test.ts",
      "src/fault-edge.test.ts",
      "src/fork.test.ts",
      "src/pfnmap.test.ts",
    ],
  },
  // __split_vma, vma merging (can_vma_merge_*, vma_merge_new_range / _existing_range, vma_modify,
  // vma_merge_extend), anon_vma_prepare's reuse of a neighbour's anon_vma.
  vma: {
    mutate: fns("src/vma.ts", [
      "splitVma",
      "isForkChild",
      "isMergeableAnonVma",
      "isMergeable",
      "special",
      "canMergeLeft",
      "canMergeRight",
      "canRemove",
      "anonVmasCompatible",
      "newRangeMerge",
      "vmaMergeNewRange",
      "vmaMergeExistingRange",
      "vmaModifyFlags",
      "vmaMergeExtend",
      "reusableAnonVma",
      "anonVmaPrepare",
    ]),
    tests: [
      "src/merge.test.ts",
      "src/vma-ops.test.ts",
      "src/mprotect.test.ts",
      "src/mremap.test.ts",
      "src/fork.test.ts",
      "src/anon-vma.test.ts",
      "src/vma-merge-rules.test.ts",
    ],
  },
  // remap_pfn_range (with its PAT memtype tracking), vmf_insert_pfn, vm_insert_page, zap_vma_ptes.
  pfn: {
    mutate: fns("src/pfnmap.ts", ["remapPfnRange", "vmfInsertPfn", "vmInsertPage", "zapVmaPtes"]),
    tests: [
      "src/pfnmap.test.ts",
      "src/pfnmap-helpers.test.ts",
      "src/pfnmap-edges.test.ts",
      "src/memtype.test.ts",
      "src/fault-driver.test.ts",
    ],
  },
};

const name = process.env.FAULTLINE_MUTATE_CHUNK;
if (name !== undefined && !(name in chunks)) {
  throw new Error(`FAULTLINE_MUTATE_CHUNK=${name}: no such mm chunk (${Object.keys(chunks).join(", ")})`);
}
const picked = name === undefined ? Object.values(chunks) : [chunks[name]];
// Read by vitest.mutate.config.ts in Stryker's test-runner processes, which inherit this environment.
process.env.FAULTLINE_MUTATE_TESTS = [...new Set(picked.flatMap((c) => c.tests))].join(",");

const report = `../../mutation/mm${name === undefined ? "" : `-${name}`}.json`;

export default {
  $schema: "../../node_modules/@stryker-mutator/core/schema/stryker-schema.json",
  mutate: picked.flatMap((c) => c.mutate),
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutate.config.ts" },
  coverageAnalysis: "perTest",
  concurrency: Number(process.env.FAULTLINE_MUTATE_CONCURRENCY ?? 1),
  timeoutMS: 60000,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: report },
  // `pnpm mutate --incremental`: only mutants whose code or covering tests changed since the last run
  // are run again. Its own file: Stryker writes it at the same moment as the JSON report.
  incrementalFile: report.replace(/\.json$/, ".incremental.json"),
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  ignoreStatic: true,
  plugins: ["../../node_modules/@stryker-mutator/vitest-runner/dist/src/index.js"],
};
