// Vite build of the console's renderer (issue 6): one static single-page app, built with
// `npx vite build --config renderer/vite.config.ts` into dist/renderer, loaded from file://
// by Electron and from http:// by `gyre console --web` (hence relative asset paths).
// `vite --config renderer/vite.config.ts` serves it in development and proxies Socket.IO to a
// running `gyre console --web --port P` (GYRE_CONSOLE_URL, default http://127.0.0.1:7300).
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// Replaced with this file's folder when Vite bundles the config (no Node imports: the lint
// rules of renderer/ forbid them).
const root = import.meta.dirname;
const backend = process.env.GYRE_CONSOLE_URL ?? 'http://127.0.0.1:7300';

export default defineConfig({
  root,
  base: './',
  // No public/ folder and no .env files: everything the app needs is imported.
  publicDir: false,
  envDir: false,
  clearScreen: false,
  plugins: [svelte({ configFile: false })],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'es2022',
    // The strict CSP allows no inline scripts: keep the module-preload polyfill out of the page.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/socket.io': {
        target: backend,
        ws: true,
        changeOrigin: true,
        // The backend accepts WebSockets from its own origin only: present that one.
        configure: (proxy) => {
          const origin = new URL(backend).origin;
          proxy.on('proxyReqWs', (req) => req.setHeader('origin', origin));
          proxy.on('proxyReq', (req) => req.setHeader('origin', origin));
        },
      },
    },
  },
});
