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

/**
 * The arguments of `derivePasswords(password, { appId, identity })` for the wasm call:
 * both salt the derivation (docs/FORMAT.md §5.3), so both are required.
 */
export function passwordArgs(password, options) {
  if (typeof password !== 'string') throw invalidInput('password must be a string');
  const { appId, identity } = options ?? {};
  if (typeof appId !== 'string' || typeof identity !== 'string') {
    throw invalidInput(
      "derivePasswords needs { appId, identity }: your app's id (a stable string, such as the server's app id) and the user's identity",
    );
  }
  return [password, appId, identity];
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
