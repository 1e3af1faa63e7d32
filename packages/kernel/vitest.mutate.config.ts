// The tests Stryker runs against each mutant of the kernel's oops path (stryker.config.json):
// the kernel tests that drive drivers, faults, oopses and WARNINGs (pat.test.ts has the ->mmap
// VM_MAYWRITE one); the syscall-table, option and live-oracle tests exercise none of the mutated
// files: leaving them out keeps a run short and independent of work in progress elsewhere in the package.
// Self-contained (no import from outside the package): Stryker runs it in a copy of this folder.
import { defineProject } from "vitest/config";

const conditions = ["@faultline/source", "module", "node", "import", "default"];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    name: "kernel-mutate",
    environment: "node",
    include: [
      "src/oops.test.ts",
      "src/oops-report.test.ts",
      "src/pfn.test.ts",
      "src/pat.test.ts",
      "src/bad-page.test.ts",
      "src/mkwrite.test.ts",
      "src/machine.test.ts",
      "src/pci-driver.test.ts",
      "src/gup.test.ts",
      "src/devices.test.ts",
      "src/dma-mapping.test.ts",
      "src/isa-dma.test.ts",
      "src/memfd.test.ts",
      "src/tmpfs.test.ts",
      "src/ipc-shm.test.ts",
      "src/clone.test.ts",
      "src/signal.test.ts",
    ],
    testTimeout: 60_000,
    env: { CC: "/nonexistent/cc" },
  },
});
