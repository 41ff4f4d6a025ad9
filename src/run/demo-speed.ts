/** The demo's lab speed (`rollgate demo --speed`'s default); apart from demo.ts, which loads the lab. */
export const DEMO_SPEED = 600;
