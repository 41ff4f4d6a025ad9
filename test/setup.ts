import { afterAll } from "vitest";
import { removeTempDirs } from "./helpers/cli.ts";

// Registered before any test file's own hooks, so it runs after them (vitest runs after-hooks in
// reverse order): labs and engines a file started are stopped by then.
afterAll(() => removeTempDirs());
