import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    // compiles src/ to dist/ when stale: the CLI the tests start runs the built code (bin/rollgate.js)
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    // For the pure tests (seconds at most; a generous margin for a machine under load): a test file
    // that starts processes, labs or servers declares its own budget (e2eTimeouts in
    // test/helpers/wait.ts; test/arch/timeouts.test.ts checks it).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests start labs and engines as child processes; keep the 2-core machine breathing.
    maxWorkers: process.env.CI ? 2 : undefined,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
