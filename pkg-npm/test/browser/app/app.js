// What every browser variant (plain ES modules, Vite, webpack, Web Worker) runs. It uses
// only the package's public API and the default browser key store.
import * as t from 'tessera-e2ee';

const utf8 = new TextEncoder();
const text = new TextDecoder();
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** First visit: make a key, keep it in IndexedDB, encrypt and decrypt a message and a file. */
export async function register(databaseName) {
  await t.init();
  const store = new t.IndexedDbKeyStore({ databaseName });
  const keys = t.KeyPair.generate();
  const card = t.Card.create(keys, 'alice');
  await store.set('tessera/alice/root-secret', keys.rootSecret());
  await store.set('tessera/alice/card', utf8.encode(card.toText()));
  const envelope = t.encrypt(keys, card, utf8.encode('hello from the browser'));
  await store.set('test/envelope', envelope);
  const message = text.decode(t.decrypt(keys, envelope, card).plaintext);
  const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 31 + 7) % 256);
  const progress = [];
  const sealed = await t.sealFile(new Blob([data]), keys, card, { onProgress: (p) => progress.push(p.bytesProcessed) });
  const opened = new Uint8Array(await (await t.openFile(sealed, keys, card)).arrayBuffer());
  let tampered = 'no error';
  try {
    const bytes = new Uint8Array(await sealed.arrayBuffer());
    bytes[bytes.length - 1] ^= 1;
    t.decrypt(keys, bytes, card);
  } catch (error) {
    tampered = `${error.name}:${error.code}`;
  }
  return {
    message,
    fileRoundTrip: hex(opened) === hex(data) && progress.at(-1) === data.length,
    tampered,
    rootSecret: hex(keys.rootSecret()),
  };
}

/** After a reload: the key from IndexedDB still decrypts the stored message. */
export async function reopen(databaseName) {
  await t.init();
  const store = new t.IndexedDbKeyStore({ databaseName });
  const root = await store.get('tessera/alice/root-secret');
  const keys = t.KeyPair.fromRootSecret(root);
  const card = t.Card.fromText(text.decode(await store.get('tessera/alice/card')));
  const envelope = await store.get('test/envelope');
  return { message: text.decode(t.decrypt(keys, envelope, card).plaintext), rootSecret: hex(keys.rootSecret()) };
}

/** Everything IndexedDB holds for the database, as the page (or any script) can read it. */
export async function dumpIndexedDb(databaseName) {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(databaseName);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const blobs = [];
  const keys = [];
  for (const storeName of db.objectStoreNames) {
    const values = await new Promise((resolve, reject) => {
      const request = db.transaction(storeName).objectStore(storeName).getAll();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const walk = async (value) => {
      if (value instanceof CryptoKey) {
        let exported = 'refused';
        try {
          await crypto.subtle.exportKey('raw', value);
          exported = 'exported';
        } catch {
          // Non-extractable: the browser refuses to reveal the bytes.
        }
        keys.push({ extractable: value.extractable, algorithm: value.algorithm.name, exported });
      } else if (value instanceof ArrayBuffer) blobs.push(hex(new Uint8Array(value)));
      else if (ArrayBuffer.isView(value)) blobs.push(hex(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)));
      else if (typeof value === 'string') blobs.push(hex(utf8.encode(value)));
      else if (value && typeof value === 'object') for (const inner of Object.values(value)) await walk(inner);
    };
    for (const value of values) await walk(value);
  }
  db.close();
  return { hexValues: blobs, cryptoKeys: keys };
}

/**
 * The client against the real tessera-server (CORS: the server allows this page's
 * origin), with the default key store (IndexedDB). First visit: register, encrypt and
 * decrypt a message and a file.
 */
export async function clientRegister({ serverUrl, token }) {
  const tessera = await t.Tessera.initialize(async () => token, { serverUrl });
  const before = await tessera.hasLocalPrivateKey();
  const card = await tessera.register();
  const envelope = await tessera.authEncrypt('hello from the browser client');
  const data = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7 + 1) % 256);
  const sealed = await tessera.encryptFile(new Blob([data]));
  const opened = new Uint8Array(await (await tessera.decryptFile(sealed)).arrayBuffer());
  return {
    identity: tessera.identity,
    hadKeyBefore: before,
    cardId: card.id,
    envelope,
    message: await tessera.authDecrypt(envelope),
    fileRoundTrip: hex(opened) === hex(data),
  };
}

/** After a reload: the key comes back from IndexedDB and decrypts old and new messages. */
export async function clientReopen({ serverUrl, token, envelope, peer, fromPeer }) {
  const tessera = await t.Tessera.initialize(async () => token, { serverUrl });
  const peerCard = await tessera.findUsers(peer);
  return {
    hasKey: await tessera.hasLocalPrivateKey(),
    cardId: tessera.ownCard?.id,
    own: await tessera.authDecrypt(envelope),
    fromPeer: await tessera.authDecrypt(fromPeer, peerCard),
    toPeer: await tessera.authEncrypt('hello Node, from the browser', peerCard),
  };
}

/** What the client's IndexedDB database holds: entry names and record shapes. */
export async function clientStoreShape(databaseName) {
  const db = await new Promise((resolve, reject) => {
    const open = indexedDB.open(databaseName);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const all = (method) =>
    new Promise((resolve, reject) => {
      const request = db.transaction('entries').objectStore('entries')[method]();
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  const names = await all('getAllKeys');
  const records = (await all('getAll')).map((record) => ({
    fields: Object.keys(record).sort().join(','),
    ivLength: record.iv.byteLength,
    ciphertextLength: record.ciphertext.byteLength,
  }));
  db.close();
  return { names, records };
}

/**
 * The backup's Argon2id runs off the main thread: while the registered user backs up and
 * derives passwords, the page's event loop keeps turning. Measures the longest gap
 * between timer ticks during those calls, and what one inline Argon2id costs here.
 */
export async function clientKdfOffMainThread({ serverUrl, token }) {
  const tessera = await t.Tessera.initialize(async () => token, { serverUrl });
  const salt = { appId: 'app-test', identity: tessera.identity };
  let longestGapMs = 0;
  let last = performance.now();
  let ticking = true;
  const tick = () => {
    if (!ticking) return;
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  await tessera.backupPrivateKey('browser backup password');
  const derived = await t.Tessera.derivePasswords('typed by the user', salt);
  ticking = false;
  const started = performance.now();
  const inline = t.derivePasswords('typed by the user', salt);
  const inlineMs = performance.now() - started;
  // A device without the key restores what the worker sealed.
  const other = await t.Tessera.initialize(async () => token, { serverUrl, keyStore: new t.MemoryKeyStore() });
  await other.restorePrivateKey('browser backup password');
  return {
    longestGapMs,
    inlineMs,
    sameAsInline: derived.loginPassword === inline.loginPassword && derived.backupPassword === inline.backupPassword,
    restored: other.ownCard?.id === tessera.ownCard?.id,
  };
}

/** Where no worker can start (a CSP without worker-src), derivePasswords still works. */
export async function derivePasswordsWithoutWorkers() {
  const derived = await t.Tessera.derivePasswords('typed by the user', { appId: 'app-test', identity: 'alice' });
  const inline = t.derivePasswords('typed by the user', { appId: 'app-test', identity: 'alice' });
  return derived.loginPassword === inline.loginPassword;
}
