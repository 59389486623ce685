// The Node.js platform: wasm-bindgen's nodejs glue, which compiles the .wasm synchronously
// when required (`init()` is still the documented first call, as in browsers), and files
// under ~/.tessera-e2ee (mode 0600) as Tessera.initialize's default key store.
// scripts/build-npm bundles it, exporting the names in exports.json, into
// dist/node/index.cjs (dist/node/index.mjs re-exports that, so both share one wasm instance).

import * as wasm from './wasm/tessera_wasm.js';
import { createApi } from './api.js';
import { FileKeyStore } from './keystore-file.js';

export default createApi(wasm, {
  instantiate: async () => {},
  defaultKeyStore: () => new FileKeyStore(),
  FileKeyStore,
});
