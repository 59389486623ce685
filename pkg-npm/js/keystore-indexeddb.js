// The browser's default key store: IndexedDB, with every value encrypted under a
// non-extractable WebCrypto AES-GCM key that is itself kept in IndexedDB (as a CryptoKey
// object, which the browser stores without ever exposing its bytes to JavaScript).
//
// Reading the database (devtools, a storage dump, code that copies IndexedDB) yields only
// AES-GCM ciphertext and an opaque CryptoKey. It does NOT stop code running on the page's
// origin (XSS, a compromised dependency, an extension with page access): such code can
// ask WebCrypto to decrypt with the stored key just as this class does. docs/NPM.md
// "What the IndexedDB key store protects" says what it does and does not stop.

import { invalidInput, TesseraError } from './errors.js';

const DB_VERSION = 1;
const ENTRIES = 'entries';
const KEYS = 'keys';
const WRAPPING_KEY = 'wrapping-key';
const encoder = new TextEncoder();

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function storeError(what, cause) {
  const detail = cause && cause.name ? ` (${cause.name})` : '';
  return new TesseraError(`the IndexedDB key store could not ${what}${detail}`, 'key_store');
}

export class IndexedDbKeyStore {
  #databaseName;
  #db = null;
  #key = null;

  /** `databaseName` defaults to "tessera-e2ee"; one database per origin is enough. */
  constructor(options = {}) {
    this.#databaseName = options.databaseName ?? 'tessera-e2ee';
    if (typeof this.#databaseName !== 'string' || this.#databaseName.length === 0) {
      throw invalidInput('databaseName must be a non-empty string');
    }
  }

  /** The IndexedDB database name. */
  get databaseName() {
    return this.#databaseName;
  }

  async #open() {
    if (this.#db) return this.#db;
    if (typeof indexedDB === 'undefined' || typeof crypto === 'undefined' || !crypto.subtle) {
      throw new TesseraError(
        'IndexedDbKeyStore needs IndexedDB and WebCrypto (a browser or a Web Worker); in Node use FileKeyStore',
        'key_store',
      );
    }
    const open = indexedDB.open(this.#databaseName, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(ENTRIES)) db.createObjectStore(ENTRIES);
      if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS);
    };
    try {
      this.#db = await request(open);
    } catch (error) {
      throw storeError('open its database', error);
    }
    this.#db.onversionchange = () => {
      this.#db?.close();
      this.#db = null;
    };
    return this.#db;
  }

  // The wrapping key: created once per database, non-extractable, encrypt/decrypt only.
  async #wrappingKey() {
    if (this.#key) return this.#key;
    const db = await this.#open();
    const read = () => request(db.transaction(KEYS, 'readonly').objectStore(KEYS).get(WRAPPING_KEY));
    let key = await read();
    if (!key) {
      const fresh = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, [
        'encrypt',
        'decrypt',
      ]);
      try {
        // `add` fails if another tab created the key first; then use theirs.
        await request(db.transaction(KEYS, 'readwrite').objectStore(KEYS).add(fresh, WRAPPING_KEY));
      } catch {
        // Fall through to read the winner's key.
      }
      key = await read();
    }
    if (!key || key.extractable !== false) {
      throw storeError('obtain its non-extractable wrapping key');
    }
    this.#key = key;
    return key;
  }

  async get(name) {
    const key = await this.#wrappingKey();
    const db = await this.#open();
    let record;
    try {
      record = await request(db.transaction(ENTRIES, 'readonly').objectStore(ENTRIES).get(name));
    } catch (error) {
      throw storeError('read an entry', error);
    }
    if (!record) return null;
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: record.iv, additionalData: encoder.encode(name) },
        key,
        record.ciphertext,
      );
      return new Uint8Array(plain);
    } catch {
      throw storeError('decrypt an entry: it was modified, or the wrapping key was replaced');
    }
  }

  async set(name, value) {
    const key = await this.#wrappingKey();
    const iv = crypto.getRandomValues(new Uint8Array(12));
    // Encrypt before opening the transaction: IndexedDB transactions close across awaits.
    const ciphertext = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(name) },
      key,
      value,
    );
    const db = await this.#open();
    try {
      await request(
        db.transaction(ENTRIES, 'readwrite').objectStore(ENTRIES).put({ v: 1, iv, ciphertext }, name),
      );
    } catch (error) {
      throw storeError('write an entry', error);
    }
  }

  async delete(name) {
    const db = await this.#open();
    try {
      await request(db.transaction(ENTRIES, 'readwrite').objectStore(ENTRIES).delete(name));
    } catch (error) {
      throw storeError('delete an entry', error);
    }
  }
}
