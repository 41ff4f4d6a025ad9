/** Defaults of the dashboard server, importable without loading fastify (the CLI's --help needs them). */
export const DEFAULT_PORT = 7450;
export const DEFAULT_HOST = "127.0.0.1";

/** How long the token of `apply|demo --dashboard` lasts at most; it is revoked when the command ends. */
export const DASHBOARD_TOKEN_TTL_SECONDS = 12 * 3600;
