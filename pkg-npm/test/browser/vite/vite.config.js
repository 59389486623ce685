// Vite build of the browser test app, with a module worker. Nothing Tessera-specific is
// needed for `vite build`.
export default {
  root: new URL('.', import.meta.url).pathname,
  base: '/vite/',
  logLevel: 'warn',
  worker: { format: 'es' },
  build: { outDir: process.env.TESSERA_VITE_OUT, emptyOutDir: true, target: 'es2022' },
};
