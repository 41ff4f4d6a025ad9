#!/usr/bin/env node
// The rollgate command. Runs the JavaScript that `npm run build` (run by `npm ci`) compiled into
// dist/, when that build is there and was made from the sources as they are now; otherwise (a
// checkout that edited src/ since, or never built) it runs the TypeScript sources through tsx, which
// compiles them at start: slower, never stale.
import { isFresh } from "../scripts/build.js";

let main;
if (!process.env.ROLLGATE_FROM_SOURCE && isFresh()) {
  ({ main } = await import("../dist/cli/main.js"));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../src/cli/main.ts"));
}
process.exitCode = await main(process.argv);
