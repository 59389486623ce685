// Entry point for Node.js, bundled by scripts/build-npm into dist/node/index.cjs
// (dist/node/index.mjs re-exports it for `import`, so both share one wasm instance). The
// nodejs glue of wasm-bindgen compiles the .wasm synchronously when required; `init()` is
// still the documented first call, as in browsers.

import * as wasm from './wasm/tessera_wasm.js';
import { createApi } from './api.js';
import { FileKeyStore } from './keystore-file.js';

const api = createApi(wasm, {
  instantiate: async () => {},
  // Tessera.initialize's default key store: files under ~/.tessera-e2ee (mode 0600).
  defaultKeyStore: () => new FileKeyStore(),
});

export const {
  init,
  Tessera,
  Group,
  KeyPair,
  Card,
  AppKey,
  TokenVerifier,
  EpochKey,
  GroupKeys,
  encrypt,
  decrypt,
  EncryptStream,
  DecryptStream,
  sealFile,
  openFile,
  sealBackup,
  openBackup,
  derivePasswords,
  safetyNumber,
  verifyCardChain,
  sealTicketBlob,
  openTicketBlob,
  encryptGroupMessage,
  decryptGroupMessage,
  groupMessageInfo,
  MemoryKeyStore,
  IndexedDbKeyStore,
  TesseraError,
  RegisterRequiredError,
  IdentityAlreadyExistsError,
  PrivateKeyAlreadyExistsError,
  PrivateKeyNoBackupError,
  MissingPrivateKeyError,
  WrongKeyknoxPasswordError,
  UsersNotFoundError,
  IntegrityCheckFailedError,
  AbortError,
  NetworkError,
  GroupError,
  InvalidInputError,
} = api;
export { FileKeyStore };
