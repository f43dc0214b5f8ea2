// The UI reuses the generated API code and the Session of clients/typescript (one source of
// truth for the protos). Those files live outside this package, so their bare imports
// (@bufbuild/protobuf, @connectrpc/connect) are deduped to this package's node_modules: one
// copy of each, whether or not clients/typescript has its own node_modules.
import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

const client = fileURLToPath(new URL("../typescript/src", import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: [{ find: /^@camfleet\/client\/(.*)$/, replacement: `${client}/$1` }],
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web"],
  },
  server: { fs: { allow: [".", "../typescript/src"] } },
  // A placeholder the UI server (server/ui) replaces with a fresh nonce per page load: it lets
  // Mantine's <style> elements through a CSP that allows no other inline style (see main.tsx).
  html: { cspNonce: "CAMFLEET_CSP_NONCE" },
  build: { outDir: "dist", sourcemap: true, chunkSizeWarningLimit: 1500 },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
