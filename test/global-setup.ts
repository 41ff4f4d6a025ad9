import { build, isFresh } from "../scripts/build.js";

/**
 * Once before the test files: compiles src/ to dist/ when dist/ is missing or older than the
 * sources, so that every `rollgate` the tests start runs fresh built code (bin/rollgate.js would
 * otherwise fall back to tsx, correct but seconds slower per command).
 */
export default async function setup(): Promise<void> {
  if (!isFresh()) await build();
}
