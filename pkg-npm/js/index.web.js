// Entry point for browsers, Web Workers and bundlers (Vite, webpack): the web glue of
// wasm-bindgen, which fetches tessera_wasm_bg.wasm next to this file
// (`new URL(..., import.meta.url)`, understood by bundlers) unless `init({ wasm })` is
// given the module, its bytes, a Response or a URL.

import instantiate, * as wasm from './wasm/tessera_wasm.js';
import { createApi } from './api.js';
import { IndexedDbKeyStore as BrowserKeyStore } from './keystore-indexeddb.js';
import { FileKeyStore } from './keystore-file-unavailable.js';

const api = createApi(wasm, {
  instantiate: (source) => instantiate(source === undefined ? undefined : { module_or_path: source }),
  // Tessera.initialize's default key store: IndexedDB under a non-extractable WebCrypto key.
  defaultKeyStore: () => new BrowserKeyStore(),
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
