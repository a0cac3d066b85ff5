/// <reference types="vitest/config" />
import optimizeLocales from "@react-aria/optimize-locales-plugin";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Vitest 5's failure report calls Map.groupBy (Node >= 21); Debian's Node 20 lacks it, and without it a
// failing test crashes the reporter instead of printing the failure.
if (typeof (Map as { groupBy?: unknown }).groupBy !== "function") {
  Object.defineProperty(Map, "groupBy", {
    value<K, T>(items: Iterable<T>, key: (item: T, index: number) => K): Map<K, T[]> {
      const groups = new Map<K, T[]>();
      let index = 0;
      for (const item of items) {
        const k = key(item, index++);
        const group = groups.get(k);
        if (group) group.push(item);
        else groups.set(k, [item]);
      }
      return groups;
    },
  });
}

// The API serves the built app (web/dist) on its own port; `npm run dev` proxies /api to it.
export default defineConfig({
  // React Aria ships its strings for 34 locales; the app speaks German and English only.
  plugins: [react(), { ...optimizeLocales.vite({ locales: ["de-DE", "en-US"] }), enforce: "pre" }],
  build: { outDir: "dist", sourcemap: false, assetsDir: "assets" },
  server: { proxy: { "/api": "http://127.0.0.1:3000", "/health": "http://127.0.0.1:3000" } },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    // Typing through React Aria fields took 4.9-5.2 s in one test at load average 9 on the shared
    // 2 cores: the 5 s default failed it now and then. A hang still fails, after 20 s.
    testTimeout: 20_000,
  },
});
