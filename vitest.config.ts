import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["test/setup.ts"],
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests start labs and engines as child processes; keep the 2-core machine breathing.
    maxWorkers: process.env.CI ? 2 : undefined,
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
