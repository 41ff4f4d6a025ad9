import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/** The dashboard: built into src/web/dist (gitignored) by `npm run prepare` (run by `npm ci`). */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  logLevel: "warn",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // one small bundle: no CDN, no external font, works offline
    assetsInlineLimit: 0,
  },
});
