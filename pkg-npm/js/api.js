// The package's API over one wasm-bindgen build (the Node or the web glue). Adapts
// arguments (card arrays, results as plain objects) and wires the platform parts; every
// cryptographic operation is one call into the wasm adapter, which is one call into
// the Rust crates.

import { createClient } from './client.js';
import * as errors from './errors.js';
import { streamArgs, transform } from './files.js';
import { createKdf } from './kdf.js';
import { MemoryKeyStore } from './keystore-memory.js';
import { IndexedDbKeyStore } from './keystore-indexeddb.js';
import { cardList as cardsOf, passwordArgs, plainDecrypted, plainPasswords } from './shapes.js';

const { errorFromCode, invalidInput } = errors;

export function createApi(wasm, platform) {
  let ready = null;

  /** Loads and instantiates the WebAssembly module once; every other call needs it. */
  function init(options = {}) {
    ready ??= (async () => {
      await platform.instantiate(options.wasm);
      wasm.setErrorFactory(errorFromCode);
    })().catch((error) => {
      ready = null;
      throw error;
    });
    return ready;
  }

  const cardList = (cards, what) => cardsOf(wasm, cards, what);

  function encrypt(sender, recipients, plaintext) {
    return wasm.encrypt(sender, cardList(recipients, 'recipients'), plaintext);
  }

  function decrypt(recipient, envelope, senderCards, madeAt) {
    return plainDecrypted(wasm.decrypt(recipient, envelope, cardList(senderCards, 'senderCards'), madeAt));
  }

  class EncryptStream {
    #inner;
    constructor(sender, recipients) {
      this.#inner = new wasm.EncryptStream(sender, cardList(recipients, 'recipients'));
    }
    update(data) {
      return this.#inner.update(data);
    }
    finish() {
      return this.#inner.finish();
    }
  }

  class DecryptStream {
    #inner;
    constructor(recipient) {
      this.#inner = new wasm.DecryptStream(recipient);
    }
    update(data) {
      return this.#inner.update(data);
    }
    finish(senderCards, madeAt) {
      return plainDecrypted(this.#inner.finish(cardList(senderCards, 'senderCards'), madeAt));
    }
  }

  function sealFile(input, sender, recipients, options = {}) {
    const args = streamArgs(input, options);
    const stream = wasm.sealStream(sender, cardList(recipients, 'recipients'), ...args);
    return transform(input, stream, () => stream.finish());
  }

  function openFile(input, recipient, senderCards, options = {}) {
    const args = streamArgs(input, options);
    const chain = cardList(senderCards, 'senderCards');
    const stream = wasm.openStream(recipient, chain, options.madeAt, ...args);
    return transform(input, stream, () => plainDecrypted(stream.finish()).plaintext);
  }

  function derivePasswords(password, options) {
    return plainPasswords(wasm.derivePasswords(...passwordArgs(password, options)));
  }

  function verifyCardChain(cards) {
    wasm.verifyCardChain(cardList(cards, 'cards'));
  }

  function epochList(keys) {
    if (!Array.isArray(keys) || !keys.every((key) => key instanceof wasm.EpochKey)) {
      throw invalidInput('history must be an array of EpochKeys');
    }
    return keys.map((key) => key.clone());
  }

  function sealTicketBlob(initiator, groupId, current, recipients, history, newcomers) {
    return wasm.sealTicketBlob(
      initiator,
      groupId,
      current,
      cardList(recipients, 'recipients'),
      history === undefined ? undefined : epochList(history),
      newcomers === undefined ? undefined : cardList(newcomers, 'newcomers'),
    );
  }

  function openTicketBlob(blob, reader, groupId, storedEpoch, initiatorCards, madeAt) {
    return wasm.openTicketBlob(blob, reader, groupId, storedEpoch, cardList(initiatorCards, 'initiatorCards'), madeAt);
  }

  function decryptGroupMessage(groupId, keys, message, senderCards, madeAt) {
    return plainDecrypted(
      wasm.decryptGroupMessage(groupId, keys, message, cardList(senderCards, 'senderCards'), madeAt),
    );
  }

  function groupMessageInfo(message) {
    const info = wasm.groupMessageInfo(message);
    const result = { groupId: info.groupId, epoch: info.epoch };
    info.free();
    return result;
  }

  const kdf = platform.kdfWorker && createKdf(wasm, platform.kdfWorker, errorFromCode);
  const { Tessera, Group } = createClient(wasm, { init, defaultKeyStore: platform.defaultKeyStore, kdf });
  const { FileKeyStore } = platform;

  return {
    init,
    Tessera,
    Group,
    KeyPair: wasm.KeyPair,
    Card: wasm.Card,
    AppKey: wasm.AppKey,
    TokenVerifier: wasm.TokenVerifier,
    EpochKey: wasm.EpochKey,
    GroupKeys: wasm.GroupKeys,
    encrypt,
    decrypt,
    EncryptStream,
    DecryptStream,
    sealFile,
    openFile,
    sealBackup: wasm.sealBackup,
    openBackup: wasm.openBackup,
    derivePasswords,
    safetyNumber: wasm.safetyNumber,
    verifyCardChain,
    sealTicketBlob,
    openTicketBlob,
    encryptGroupMessage: wasm.encryptGroupMessage,
    decryptGroupMessage,
    groupMessageInfo,
    MemoryKeyStore,
    IndexedDbKeyStore,
    FileKeyStore,
    ...errors,
  };
}
