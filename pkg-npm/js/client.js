// The E3Kit-shaped client: `Tessera` and `Group` over the wasm adapter's newtypes of
// tessera-client, the device client (docs/CLIENT.md). This layer only adapts shapes: strings
// in → base64 strings out (as E3Kit), lookup results as `{ [identity]: Card }` objects,
// Blob/ReadableStream plumbing, the platform's default key store and `fetch`. Every
// decision (what to fetch, verify, store, or refuse; the default sender; progress and
// cancellation) is made in tessera-client.

import { invalidInput } from './errors.js';
import { streamArgs, transform } from './files.js';
import { cardList, passwordArgs, plainDecrypted, plainPasswords } from './shapes.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

// Lets the static factories construct instances while `new Tessera()` is refused.
const INTERNAL = Symbol('tessera-internal');

/**
 * Bytes as a Uint8Array view of the same memory (no copy), as E3Kit took them: a
 * Uint8Array (or Node Buffer) as is, any other typed array or DataView over its own
 * byteOffset/byteLength, an ArrayBuffer whole. Undefined for anything else.
 */
function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || Object.prototype.toString.call(data) === '[object ArrayBuffer]') {
    return new Uint8Array(data);
  }
  return undefined;
}

/** Data as bytes, and whether the result goes back as text (string in → string out). */
function dataOf(data, what) {
  if (typeof data === 'string') return { bytes: utf8.encode(data), text: true };
  const bytes = bytesOf(data);
  if (bytes) return { bytes, text: false };
  throw invalidInput(`${what} must be a string, an ArrayBuffer or an ArrayBufferView (typed array, DataView, Buffer)`);
}

/** Ciphertext as bytes: base64 text, or bytes as dataOf takes them. */
function ciphertextOf(wasm, data, what) {
  const text = typeof data === 'string';
  return { bytes: text ? wasm.fromBase64(data) : dataOf(data, what).bytes, text };
}

// E3Kit's older names, kept as aliases; each warns once per process on first use.
const warned = new Set();
function deprecated(name, replacement) {
  if (warned.has(name)) return;
  warned.add(name);
  console.warn(`tessera-e2ee: ${name}() is deprecated (an E3Kit name); use ${replacement}() instead`);
}

function checkDate(date, what) {
  if (date !== undefined && date !== null && !(date instanceof Date && Number.isFinite(date.getTime()))) {
    throw invalidInput(`${what} must be a valid Date`);
  }
  return date ?? undefined;
}

function checkString(value, what) {
  if (typeof value !== 'string') throw invalidInput(`${what} must be a string`);
  return value;
}

function checkKeyStore(store) {
  if (!store || !['get', 'set', 'delete'].every((method) => typeof store[method] === 'function')) {
    throw invalidInput('keyStore must be an object with async get, set and delete methods');
  }
  return store;
}

/**
 * The HTTP function the wasm client sends its requests through: one call of `fetch` (the
 * platform's, or the app's `options.fetch`), response read whole.
 */
function sendWith(fetchImpl) {
  return async (method, url, headers, body) => {
    const response = await fetchImpl(url, { method, headers, body });
    return {
      status: response.status,
      headers: [...response.headers],
      body: new Uint8Array(await response.arrayBuffer()),
    };
  };
}

export function createClient(wasm, { init, defaultKeyStore, kdf }) {
  /**
   * `{ [identity]: Card }` from an array of cards, as E3Kit's FindUsersResult. Defined as
   * own properties, so any identity (even `__proto__`) is an ordinary key.
   */
  function lookupResult(cards) {
    const result = {};
    for (const card of cards) {
      Object.defineProperty(result, card.identity, { value: card, enumerable: true, writable: true, configurable: true });
    }
    return result;
  }

  /** Recipients or participants (none when omitted) as card copies. */
  function cardsOf(users, what) {
    return users === undefined || users === null ? [] : cardList(wasm, users, what);
  }

  function cardOf(card, what) {
    if (!(card instanceof wasm.Card)) throw invalidInput(`${what} must be a Card`);
    return card;
  }

  /** A sender's card as a copy, or undefined for the user (E3Kit's default sender). */
  function senderOf(card, what) {
    return card === undefined || card === null ? undefined : cardOf(card, what).clone();
  }

  function identitiesOf(input, what) {
    const list = typeof input === 'string' ? [input] : input;
    if (!Array.isArray(list) || list.length === 0 || !list.every((id) => typeof id === 'string')) {
      throw invalidInput(`${what} must be an identity or a non-empty array of identities`);
    }
    return list;
  }

  class Group {
    #inner;

    constructor(token, inner) {
      if (token !== INTERNAL) {
        throw new TypeError('groups come from Tessera.createGroup, loadGroup or getGroup');
      }
      this.#inner = inner;
    }

    /** The group id. */
    get id() {
      return this.#inner.id;
    }

    /** The initiator's identity. */
    get initiator() {
      return this.#inner.initiator;
    }

    /** The participants of the current epoch. */
    get participants() {
      return this.#inner.participants;
    }

    /** The current epoch number. */
    get epoch() {
      return this.#inner.epoch;
    }

    async encrypt(data) {
      const { bytes, text } = dataOf(data, 'data');
      const message = await this.#inner.encrypt(bytes);
      return text ? wasm.toBase64(message) : message;
    }

    async decrypt(data, senderCard, madeAt) {
      const { bytes, text } = ciphertextOf(wasm, data, 'data');
      const plaintext = await this.#inner.decrypt(
        bytes,
        cardOf(senderCard, 'senderCard'),
        checkDate(madeAt, 'madeAt'),
      );
      return text ? fromUtf8.decode(plaintext) : plaintext;
    }

    update() {
      return this.#inner.update();
    }

    add(participants, options = {}) {
      const cards = cardsOf(participants, 'participants');
      return this.#inner.add(cards, options.shareHistory ?? true);
    }

    remove(participants) {
      let identities;
      if (typeof participants === 'string' || (Array.isArray(participants) && participants.every((p) => typeof p === 'string'))) {
        identities = identitiesOf(participants, 'participants');
      } else {
        identities = cardsOf(participants, 'participants').map((card) => {
          const identity = card.identity;
          card.free();
          return identity;
        });
      }
      return this.#inner.remove(identities);
    }

    reAdd(participant) {
      return this.#inner.reAdd(cardOf(participant, 'participant'));
    }
  }

  const groupOf = (inner) => new Group(INTERNAL, inner);

  class Tessera {
    #inner;

    constructor(token, inner) {
      if (token !== INTERNAL) throw new TypeError('use `await Tessera.initialize(getToken, options)`');
      this.#inner = inner;
    }

    /**
     * Creates the client of the user whose tokens `getToken` returns. Loads the key from
     * the key store (default: IndexedDB in browsers, ~/.tessera-e2ee in Node).
     */
    static async initialize(getToken, options = {}) {
      if (typeof getToken !== 'function') {
        throw invalidInput('getToken must be a function returning (a Promise of) a JWT');
      }
      if (options === null || typeof options !== 'object') throw invalidInput('options must be an object');
      const serverUrl = checkString(options.serverUrl, 'options.serverUrl');
      if (options.onKeyChanged !== undefined && typeof options.onKeyChanged !== 'function') {
        throw invalidInput('options.onKeyChanged must be a function');
      }
      if (options.identity !== undefined) checkString(options.identity, 'options.identity');
      const fetchImpl = options.fetch ?? globalThis.fetch;
      if (typeof fetchImpl !== 'function') throw invalidInput('no fetch: pass options.fetch');
      await init(options.wasm === undefined ? undefined : { wasm: options.wasm });
      const keyStore = checkKeyStore(options.keyStore ?? defaultKeyStore());
      const inner = await wasm.Tessera.initialize(
        serverUrl,
        keyStore,
        getToken,
        sendWith(fetchImpl),
        options.onKeyChanged,
        options.identity,
        kdf?.argon2id,
      );
      return new Tessera(INTERNAL, inner);
    }

    /**
     * One typed password → a login password and a backup password (Argon2id), salted
     * with `{ appId, identity }`.
     */
    static async derivePasswords(password, options) {
      const args = passwordArgs(password, options);
      await init();
      if (kdf) return kdf.derivePasswords(...args);
      return plainPasswords(wasm.Tessera.derivePasswords(...args));
    }

    /** The user's identity (the tokens' subject). */
    get identity() {
      return this.#inner.identity;
    }

    /** The user's card, when this device has the key. */
    get ownCard() {
      return this.#inner.ownCard;
    }

    async hasLocalPrivateKey() {
      return this.#inner.hasLocalPrivateKey();
    }

    register() {
      return this.#inner.register();
    }

    rotatePrivateKey() {
      return this.#inner.rotatePrivateKey();
    }

    unregister() {
      return this.#inner.unregister();
    }

    cleanup() {
      return this.#inner.cleanup();
    }

    async backupPrivateKey(password) {
      return this.#inner.backupPrivateKey(checkString(password, 'password'));
    }

    async restorePrivateKey(password) {
      return this.#inner.restorePrivateKey(checkString(password, 'password'));
    }

    async changePassword(oldPassword, newPassword) {
      return this.#inner.changePassword(checkString(oldPassword, 'oldPassword'), checkString(newPassword, 'newPassword'));
    }

    resetPrivateKeyBackup() {
      return this.#inner.resetPrivateKeyBackup();
    }

    /** One identity → its Card; an array → `{ [identity]: Card }`. Always verified. */
    async findUsers(identities) {
      const cards = await this.#inner.findUsers(identitiesOf(identities, 'identities'));
      return typeof identities === 'string' ? cards[0] : lookupResult(cards);
    }

    /** Like findUsers, from this device's cache only (offline). */
    async findCachedUsers(identities) {
      const cards = await this.#inner.findCachedUsers(identitiesOf(identities, 'identities'));
      return typeof identities === 'string' ? cards[0] : lookupResult(cards);
    }

    /** Refreshes cached cards; resolves to the identities whose card changed. */
    updateCachedUsers() {
      return this.#inner.updateCachedUsers();
    }

    /** Signs and encrypts for the recipients and the user: string → base64, bytes → bytes. */
    async authEncrypt(data, recipients) {
      const { bytes, text } = dataOf(data, 'data');
      const envelope = await this.#inner.authEncrypt(bytes, cardsOf(recipients, 'recipients'));
      return text ? wasm.toBase64(envelope) : envelope;
    }

    /**
     * Decrypts and verifies the sender (default: the user): base64 → string, bytes →
     * bytes. `madeAt` (E3Kit: the encryption date) lets data signed before the sender's
     * key rotation verify.
     */
    async authDecrypt(data, senderCard, madeAt) {
      const { bytes, text } = ciphertextOf(wasm, data, 'data');
      const sender = senderOf(senderCard, 'senderCard');
      const plaintext = await this.#inner.authDecrypt(bytes, sender, checkDate(madeAt, 'madeAt'));
      return text ? fromUtf8.decode(plaintext) : plaintext;
    }

    /** Deprecated E3Kit name of findUsers. */
    async lookupPublicKeys(identities) {
      deprecated('lookupPublicKeys', 'findUsers');
      return this.findUsers(identities);
    }

    /** Deprecated E3Kit name of authEncrypt (signs and encrypts). */
    async encrypt(data, recipients) {
      deprecated('encrypt', 'authEncrypt');
      return this.authEncrypt(data, recipients);
    }

    /** Deprecated E3Kit name of authDecrypt (decrypts and verifies). */
    async decrypt(data, senderCard, madeAt) {
      deprecated('decrypt', 'authDecrypt');
      return this.authDecrypt(data, senderCard, madeAt);
    }

    /** Blob/File → Promise<Blob/File>; ReadableStream → Promise<ReadableStream>. */
    async encryptFile(input, recipients, options = {}) {
      const args = streamArgs(input, options);
      const stream = await this.#inner.encryptStream(cardsOf(recipients, 'recipients'), ...args);
      return transform(input, stream, () => stream.finish());
    }

    /**
     * Blob/File → Promise<Blob/File>, resolved only after the sender's signature verified;
     * ReadableStream → Promise<ReadableStream> that errors at the end if it does not.
     */
    async decryptFile(input, senderCard, options = {}) {
      const args = streamArgs(input, options);
      const sender = senderOf(senderCard, 'senderCard');
      const madeAt = checkDate(options.madeAt, 'options.madeAt');
      const stream = await this.#inner.decryptStream(sender, madeAt, ...args);
      return transform(input, stream, () => plainDecrypted(stream.finish()).plaintext);
    }

    /** E3Kit's current name of encryptFile (the same method: it signs too). */
    authEncryptFile(input, recipients, options) {
      return this.encryptFile(input, recipients, options);
    }

    /** E3Kit's current name of decryptFile (the same method: it verifies too). */
    authDecryptFile(input, senderCard, options) {
      return this.decryptFile(input, senderCard, options);
    }

    /** The 60-digit safety number of the user and `card`'s owner. */
    safetyNumber(card) {
      return this.#inner.safetyNumber(cardOf(card, 'card'));
    }

    async createGroup(groupId, participants) {
      const cards = cardsOf(participants, 'participants');
      return groupOf(await this.#inner.createGroup(checkString(groupId, 'groupId'), cards));
    }

    async loadGroup(groupId, initiatorCard) {
      return groupOf(await this.#inner.loadGroup(checkString(groupId, 'groupId'), cardOf(initiatorCard, 'initiatorCard')));
    }

    /** The group as this device knows it (offline), or null. */
    async getGroup(groupId) {
      const inner = await this.#inner.getGroup(checkString(groupId, 'groupId'));
      return inner === undefined ? null : groupOf(inner);
    }

    async deleteGroup(groupId) {
      return this.#inner.deleteGroup(checkString(groupId, 'groupId'));
    }
  }

  return { Tessera, Group };
}
