// Cross-language: decrypt what Rust wrote (from-rust.json), then write messages that the
// Rust side checks next (from-npm.json). scripts/test-npm orders the three steps. The same
// for the clients, through the real server: Rust's client registered `npm-client` and
// backed its key up; here the npm client restores it, decrypts what Rust's client sent
// (from-rust-client.json) and writes messages for `rust-client` (from-npm-client.json).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';

import * as t from 'tessera-e2ee';

import { hex, required, testServer } from './helpers.mjs';

before(() => t.init());

// Fixed test identities (never real keys): rust-side 0x11 × 32, npm-side 0x22 × 32.
const rustSide = () => t.KeyPair.fromRootSecret(new Uint8Array(32).fill(0x11));
const npmSide = () => t.KeyPair.fromRootSecret(new Uint8Array(32).fill(0x22));
const when = new Date(1767225600 * 1000);

test('messages encrypted by tessera-client (Rust) decrypt and verify here', () => {
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

test('messages encrypted here are written for tessera-client (Rust) to decrypt', async () => {
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

test('the npm client decrypts the Rust client\'s authEncrypt and writes messages for it', async () => {
  const dir = required('TESSERA_INTEROP_DIR');
  const file = JSON.parse(readFileSync(join(dir, 'from-rust-client.json'), 'utf8'));
  const server = testServer();
  const npmClient = await t.Tessera.initialize(server.tokenFor('npm-client'), {
    serverUrl: server.url,
    keyStore: new t.MemoryKeyStore(),
  });
  await npmClient.restorePrivateKey(file.password);
  const rustClient = await npmClient.findUsers('rust-client');
  // E3Kit's string form: base64 in, text out.
  assert.equal(await npmClient.authDecrypt(file.message, rustClient), file.plaintext);

  const text = 'hello Rust client, from the npm client ✓';
  const long = Uint8Array.from({ length: 200_001 }, (_, i) => (i * 11) % 256);
  const sealed = await npmClient.encryptFile(new Blob([long]), rustClient);
  const messages = [
    { message: await npmClient.authEncrypt(text, rustClient), plaintext: hex.encode(new TextEncoder().encode(text)) },
    { message: Buffer.from(await sealed.arrayBuffer()).toString('base64'), plaintext: hex.encode(long) },
  ];
  writeFileSync(join(dir, 'from-npm-client.json'), JSON.stringify({ messages }));
});
