/**
 * The lab's --speed bounds (docs/lab.md, docs/security.md): from 10× slower to 10⁷× faster. Slower
 * than 0.1 would stretch the default 4h maxMixedWindow past the 7d a fleet file accepts. Apart from
 * derived-fleet.ts so that the CLI's flag parser can use them without loading the fleet file code.
 */
export const MIN_SPEED = 0.1;
export const MAX_SPEED = 10_000_000;
