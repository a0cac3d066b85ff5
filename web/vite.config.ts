/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The API serves the built app (web/dist) on its own port; `npm run dev` proxies /api to it.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, assetsDir: "assets" },
  server: { proxy: { "/api": "http://127.0.0.1:3000", "/health": "http://127.0.0.1:3000" } },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
