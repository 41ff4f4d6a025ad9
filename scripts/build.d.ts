// Types of scripts/build.js (plain JavaScript: it runs with node alone, from `npm ci` and bin/rollgate.js).

export interface SourceStamp {
  /** The real path of the checkout the sources are in. */
  root: string;
  /** How many source files there are. */
  files: number;
  /** The newest change time (ctime, ms) among them. */
  newest: number;
  /** sha1 of every source's path (from root), size, mtime and ctime. */
  hash: string;
}

/** What these sources (src/ of root, and scripts/build.js) look like now: the stamp dist/ records when it is built. */
export function sourceStamp(root?: string): SourceStamp;

/** Whether dist/ under root was built from the sources as they are now (false when it is missing). */
export function isFresh(root?: string): boolean;

/** Compiles root/src (but src/web) to root/dist/cli: how many source files, output files, how long. */
export function build(root?: string): Promise<{ files: number; outputs: number; ms: number }>;
