// The browser platform (Web Workers and bundlers such as Vite and webpack too): the web
// glue of wasm-bindgen, which fetches tessera_wasm_bg.wasm next to this file
// (`new URL(..., import.meta.url)`, understood by bundlers) unless `init({ wasm })` is
// given the module, its bytes, a Response or a URL, and IndexedDB under a non-extractable
// WebCrypto key as Tessera.initialize's default key store. scripts/build-npm puts it next to
// dist/web/index.js, which exports the names in exports.json.

import instantiate, * as wasm from './wasm/tessera_wasm.js';
import { createApi } from './api.js';
import { IndexedDbKeyStore } from './keystore-indexeddb.js';
import { FileKeyStore } from './keystore-file-unavailable.js';

export default createApi(wasm, {
  instantiate: (source) => instantiate(source === undefined ? undefined : { module_or_path: source }),
  defaultKeyStore: () => new IndexedDbKeyStore(),
  FileKeyStore,
});
