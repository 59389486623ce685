// The browser platform (Web Workers and bundlers such as Vite and webpack too): the web
// glue of wasm-bindgen over the module compiled here — from tessera_wasm_bg.wasm next to
// this file (`new URL(..., import.meta.url)`, understood by bundlers) unless `init({ wasm })`
// is given the module, its bytes, a Response or a URL —, IndexedDB under a non-extractable
// WebCrypto key as Tessera.initialize's default key store, and a Web Worker for the
// backups' Argon2id (js/kdf.js), which gets the same compiled module. scripts/build-npm puts
// it next to dist/web/index.js, which exports the names in exports.json.

import instantiate, * as wasm from './wasm/tessera_wasm.js';
import { createApi } from './api.js';
import { IndexedDbKeyStore } from './keystore-indexeddb.js';
import { FileKeyStore } from './keystore-file-unavailable.js';

let compiled;

/** A WebAssembly.Module from whatever `init({ wasm })` was given (or the default URL). */
async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (ArrayBuffer.isView(source) || source instanceof ArrayBuffer) return WebAssembly.compile(source);
  let response = source ?? fetch(new URL('./wasm/tessera_wasm_bg.wasm', import.meta.url));
  if (typeof response === 'string' || response instanceof URL || response instanceof Request) {
    response = fetch(response);
  }
  response = await response;
  if (response.headers.get('Content-Type') === 'application/wasm') {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

export default createApi(wasm, {
  instantiate: async (source) => {
    compiled ??= await compile(source);
    await instantiate({ module_or_path: compiled });
  },
  defaultKeyStore: () => new IndexedDbKeyStore(),
  FileKeyStore,
  kdfWorker: {
    start: () => new Worker(new URL('./kdf-worker.js', import.meta.url), { type: 'module' }),
    module: () => compiled,
  },
});
