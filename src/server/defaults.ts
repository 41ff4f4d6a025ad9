/** Defaults of the dashboard server, importable without loading fastify (the CLI's --help needs them). */
export const DEFAULT_PORT = 7450;
export const DEFAULT_HOST = "127.0.0.1";
