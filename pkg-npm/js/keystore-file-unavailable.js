// The browser build's stand-in for FileKeyStore, which needs Node's file system.

import { TesseraError } from './errors.js';

export class FileKeyStore {
  constructor() {
    throw new TesseraError(
      'FileKeyStore needs Node.js; in browsers use IndexedDbKeyStore (the default)',
      'key_store',
    );
  }
}
