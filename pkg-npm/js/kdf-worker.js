// A Web Worker that runs Argon2id for the page (js/kdf.js), so a backup, restore or
// derivePasswords never blocks the main thread. It receives the page's compiled
// WebAssembly.Module, so it fetches nothing and works however the page loaded the package.

import { initSync, argon2id, derivePasswords } from './wasm/tessera_wasm.js';
import { plainPasswords } from './shapes.js';

const CALLS = {
  argon2id: (args) => argon2id(...args),
  derivePasswords: (args) => plainPasswords(derivePasswords(...args)),
};

self.onmessage = ({ data: { id, module, name, args } }) => {
  try {
    initSync({ module });
    self.postMessage({ id, result: CALLS[name](args) });
  } catch (error) {
    // Errors from Rust carry their code (no error factory is registered in here).
    self.postMessage({ id, error: { code: error?.code ?? 'internal', message: String(error?.message ?? error) } });
  }
};
