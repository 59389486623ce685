// The chat is plain ES modules; Vite bundles them with tessera-e2ee's .wasm as an asset.
// Nothing Tessera-specific is needed here.
export default {
  root: new URL('.', import.meta.url).pathname,
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
};
