// Cross-language: decrypt what Rust wrote (from-rust.json), then write messages that the
// Rust side checks next (from-npm.json). scripts/test-npm orders the three steps.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import * as t from 'tessera-e2ee';

import { hex, required } from './helpers.mjs';

before(() => t.init());

// Fixed test identities (never real keys): rust-side 0x11 × 32, npm-side 0x22 × 32.
const rustSide = () => t.KeyPair.fromRootSecret(new Uint8Array(32).fill(0x11));
const npmSide = () => t.KeyPair.fromRootSecret(new Uint8Array(32).fill(0x22));
const when = new Date(1767225600 * 1000);

test('messages encrypted by tessera-core (Rust) decrypt and verify here', () => {
  const file = JSON.parse(readFileSync(join(required('TESSERA_INTEROP_DIR'), 'from-rust.json'), 'utf8'));
  const sender = t.Card.fromText(file.sender_card);
  assert.equal(sender.identity, 'rust-side');
  assert.deepEqual(sender.signingPublicKey, rustSide().signingPublicKey);
  assert.ok(file.messages.length >= 3);
  for (const message of file.messages) {
    const result = t.decrypt(npmSide(), hex.decode(message.envelope), sender);
    assert.equal(hex.encode(result.plaintext), message.plaintext);
    assert.equal(result.signer, 'rust-side');
  }
});

test('messages encrypted here are written for tessera-core (Rust) to decrypt', async () => {
  const sender = npmSide();
  const me = t.Card.create(sender, 'npm-side', when);
  const reader = t.Card.create(rustSide(), 'rust-side', when);
  const long = Uint8Array.from({ length: 300_001 }, (_, i) => (i * 7) % 256);
  const messages = [new Uint8Array(0), new TextEncoder().encode('hello from npm')].map((plaintext) => ({
    envelope: hex.encode(t.encrypt(sender, reader, plaintext)),
    plaintext: hex.encode(plaintext),
  }));
  // A multi-chunk file through the streaming path (Blob in, Blob out).
  const sealed = await t.sealFile(new Blob([long]), sender, [reader]);
  messages.push({ envelope: hex.encode(new Uint8Array(await sealed.arrayBuffer())), plaintext: hex.encode(long) });
  writeFileSync(
    join(required('TESSERA_INTEROP_DIR'), 'from-npm.json'),
    JSON.stringify({ sender_card: me.toText(), messages }),
  );
});
