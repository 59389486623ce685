// Values between the shapes of the JavaScript API and the wasm adapter's objects.

import { invalidInput } from './errors.js';

/**
 * Recipients, participants or a sender's chain as copies of their cards: a Card, an array
 * of Cards, or a findUsers result (`{ [identity]: Card }`). Copies, because wasm-bindgen
 * takes ownership of what it is given and callers keep theirs.
 */
export function cardList(wasm, cards, what) {
  let list;
  if (cards instanceof wasm.Card) list = [cards];
  else if (Array.isArray(cards)) list = cards;
  else if (cards !== null && typeof cards === 'object') list = Object.values(cards);
  if (!list || !list.every((card) => card instanceof wasm.Card)) {
    throw invalidInput(`${what} must be a Card, an array of Cards or a findUsers result`);
  }
  return list.map((card) => card.clone());
}

/** `{ loginPassword, backupPassword }` from the wasm result, which is freed. */
export function plainPasswords(derived) {
  const result = { loginPassword: derived.loginPassword, backupPassword: derived.backupPassword };
  derived.free();
  return result;
}

/** `{ plaintext, signer, signerCardId }` from the wasm result, which is freed. */
export function plainDecrypted(decrypted) {
  const result = {
    plaintext: decrypted.plaintext,
    signer: decrypted.signer,
    signerCardId: decrypted.signerCardId,
  };
  decrypted.free();
  return result;
}
